import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { ForbiddenError, UnauthenticatedError, ValidationFailedError } from '../common/errors/domain-errors';
import { displayId, isResourceId } from '../common/validation/resource-id';
import type { GuardedRequest } from './jwt-auth.guard';
import { RouteAccessReader } from './route-access';
import { hasScope, mayAccessTenant } from './scopes';

/**
 * Last of the global guards (see AppModule): what JwtAuthGuard found decides.
 * No caller: 401 with the reason. Then the route's scope (403), then, for a
 * route that declares @ActsOnTenant, the tenant id (400) and whether the token
 * lists that tenant (403 whether or not the tenant exists).
 */
@Injectable()
export class AccessGuard implements CanActivate {
  constructor(private readonly routes: RouteAccessReader) {}

  canActivate(context: ExecutionContext): boolean {
    const access = this.routes.of(context);
    if (access.isPublic) return true;
    const request = context.switchToHttp().getRequest<GuardedRequest>();
    const principal = request.user;
    if (!principal) throw request.authFailure ?? new UnauthenticatedError('Missing or invalid bearer token');
    if (access.scope !== undefined && !hasScope(principal, access.scope)) {
      throw new ForbiddenError(`This token lacks the scope '${access.scope}'`);
    }
    if (access.tenantParam !== undefined) {
      const tenantId = request.params?.[access.tenantParam];
      // Only canonical ids reach a query: MySQL compares with PAD SPACE, so 'acme ' would find 'acme'.
      // (This is the check of the tenant parameter for every route: guards run before any pipe.)
      if (!isResourceId(tenantId)) {
        const field = access.tenantParam;
        const message = `${field} in the path must be 1-64 characters of letters, digits, ".", "_" or "-"`;
        throw new ValidationFailedError(message, [{ field, message }]);
      }
      if (!mayAccessTenant(principal, tenantId)) {
        throw new ForbiddenError(`This token may not access tenant '${displayId(tenantId)}'`);
      }
    }
    return true;
  }
}
