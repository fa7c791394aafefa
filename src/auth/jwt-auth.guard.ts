import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ForbiddenError, ValidationFailedError } from '../common/errors/domain-errors';
import { displayId, isResourceId } from '../common/validation/resource-id';
import { IS_PUBLIC, REQUIRED_SCOPE } from './auth.decorators';
import { hasScope, mayAccessTenant, type Principal, type ScopeName } from './scopes';
import { TokenVerifier } from './token-verifier';

interface GuardedRequest {
  headers: { authorization?: string };
  params?: Record<string, string>;
  user?: Principal;
}

/** What a route asks of its caller, read from its decorators once. */
interface RouteAccess {
  isPublic: boolean;
  scope: ScopeName | undefined;
}

/**
 * The one global guard: every route needs a valid token unless it is @Public();
 * then the route's scope, and for routes under `/tenants/:iid`, the tenant.
 * A tenant outside the token gets 403 whether or not it exists.
 *
 * It answers synchronously when the token can be checked synchronously (a
 * static key: every configuration but JWKS), which spares Nest an await per request.
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  /** Per controller class, then per handler: a method could be shared by two classes with different decorators. */
  private readonly routes = new WeakMap<object, WeakMap<object, RouteAccess>>();

  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenVerifier,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const access = this.accessOf(context);
    if (access.isPublic) return true;
    const request = context.switchToHttp().getRequest<GuardedRequest>();
    const principal = this.tokens.authenticate(request.headers.authorization);
    if (principal instanceof Promise) return principal.then((resolved) => this.authorize(request, resolved, access.scope));
    return this.authorize(request, principal, access.scope);
  }

  private authorize(request: GuardedRequest, principal: Principal, scope: ScopeName | undefined): boolean {
    request.user = principal;
    if (scope !== undefined && !hasScope(principal, scope)) {
      throw new ForbiddenError(`This token lacks the scope '${scope}'`);
    }
    const tenantId = request.params?.iid;
    // Only canonical ids reach a query: MySQL compares with PAD SPACE, so 'acme ' would find 'acme'.
    // (This is the check of `:iid` for every route: the guard runs before any pipe.)
    if (tenantId !== undefined && !isResourceId(tenantId)) {
      const message = 'iid in the path must be 1-64 characters of letters, digits, ".", "_" or "-"';
      throw new ValidationFailedError(message, [{ field: 'iid', message }]);
    }
    if (tenantId !== undefined && !mayAccessTenant(principal, tenantId)) {
      throw new ForbiddenError(`This token may not access tenant '${displayId(tenantId)}'`);
    }
    return true;
  }

  private accessOf(context: ExecutionContext): RouteAccess {
    const handler = context.getHandler();
    const controller = context.getClass();
    let handlers = this.routes.get(controller);
    if (handlers === undefined) this.routes.set(controller, (handlers = new WeakMap()));
    let access = handlers.get(handler);
    if (access === undefined) {
      const targets = [handler, controller];
      access = {
        isPublic: this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC, targets) === true,
        scope: this.reflector.getAllAndOverride<ScopeName | undefined>(REQUIRED_SCOPE, targets),
      };
      handlers.set(handler, access);
    }
    return access;
  }
}
