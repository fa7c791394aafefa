import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Principal, ScopeName } from './scopes';

export const IS_PUBLIC = 'auth:public';
export const REQUIRED_SCOPE = 'auth:required-scope';
export const TENANT_PARAM = 'auth:tenant-param';

/** Opens a route to callers without a token (health checks, POST /token, /.well-known/*). Everything else is protected. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);

/** The scope a route needs (platform admins have them all). */
export const RequireScope = (scope: ScopeName): MethodDecorator & ClassDecorator => SetMetadata(REQUIRED_SCOPE, scope);

/**
 * The route acts on the tenant named by this path parameter: the guard checks
 * that the id follows the id rules (400) and that the token lists the tenant
 * (403, whether or not the tenant exists) before any pipe or query runs.
 * A route without it is not limited to the token's tenants.
 */
export const ActsOnTenant = (param: string): MethodDecorator & ClassDecorator => SetMetadata(TENANT_PARAM, param);

/** The verified caller of this request. */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal => context.switchToHttp().getRequest<{ user: Principal }>().user,
);
