import { type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { ForbiddenError, UnauthenticatedError, ValidationFailedError } from '../common/errors/domain-errors';
import { displayId, isResourceId } from '../common/validation/resource-id';
import { IS_PUBLIC, REQUIRED_SCOPE } from './auth.decorators';
import { hasScope, mayAccessTenant, type Principal, type ScopeName } from './scopes';

/** Messages of jsonwebtoken / passport-jwt failures that are safe and useful to show. */
function describeTokenFailure(info: unknown): string {
  if (!(info instanceof Error)) return 'Missing or invalid bearer token';
  switch (info.name) {
    case 'TokenExpiredError':
      return 'Token has expired';
    case 'NotBeforeError':
      return 'Token is not valid yet (nbf)';
    case 'JwksError':
      return `Token key could not be found: ${info.message}`;
    case 'JsonWebTokenError':
      // 'invalid signature', 'jwt malformed', 'invalid algorithm', 'jwt audience invalid. expected: …'
      return `Invalid token: ${info.message}`;
    default:
      return info.message === 'No auth token' ? 'Missing bearer token (Authorization: Bearer <JWT>)' : 'Missing or invalid bearer token';
  }
}

/**
 * The one global guard: every route needs a valid token unless it is @Public();
 * then the route's scope, and for routes under `/tenants/:iid`, the tenant.
 * A tenant outside the token gets 403 whether or not it exists.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(private readonly reflector: Reflector) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    await super.canActivate(context);

    const request = context.switchToHttp().getRequest<{ user: Principal; params?: Record<string, string> }>();
    const principal = request.user;
    const scope = this.reflector.getAllAndOverride<ScopeName | undefined>(REQUIRED_SCOPE, targets);
    if (scope !== undefined && !hasScope(principal, scope)) {
      throw new ForbiddenError(`This token lacks the scope '${scope}'`);
    }
    const tenantId = request.params?.iid;
    // Only canonical ids reach a query: MySQL compares with PAD SPACE, so 'acme ' would find 'acme'.
    if (tenantId !== undefined && !isResourceId(tenantId)) {
      const message = 'iid in the path must be 1-64 characters of letters, digits, ".", "_" or "-"';
      throw new ValidationFailedError(message, [{ field: 'iid', message }]);
    }
    if (tenantId !== undefined && !mayAccessTenant(principal, tenantId)) {
      throw new ForbiddenError(`This token may not access tenant '${displayId(tenantId)}'`);
    }
    return true;
  }

  override handleRequest<TUser = Principal>(error: unknown, user: TUser | false, info: unknown): TUser {
    if (error instanceof UnauthenticatedError) throw error;
    if (error || !user) throw new UnauthenticatedError(describeTokenFailure(error ?? info));
    return user;
  }
}
