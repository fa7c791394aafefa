import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Principal, ScopeName } from './scopes';

export const IS_PUBLIC = 'auth:public';
export const REQUIRED_SCOPE = 'auth:required-scope';

/** Opens a route to callers without a token (health checks only). Everything else is protected. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);

/**
 * The scope a route needs (platform admins have them all). Routes with an
 * `:iid` parameter are also limited to the tenants listed in the token.
 */
export const RequireScope = (scope: ScopeName): MethodDecorator & ClassDecorator => SetMetadata(REQUIRED_SCOPE, scope);

/** The verified caller of this request. */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal => context.switchToHttp().getRequest<{ user: Principal }>().user,
);
