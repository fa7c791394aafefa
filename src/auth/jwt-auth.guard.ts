import { type ExecutionContext, Injectable } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import { UnauthenticatedError } from '../common/errors/domain-errors';
import { RouteAccessReader } from './route-access';
import type { Principal } from './scopes';

/** What the guards leave on the request for each other and for the handler. */
export interface GuardedRequest {
  ip: string;
  params?: Record<string, string | undefined>;
  /** The verified caller (set by @nestjs/passport from JwtAuthGuard.handleRequest). */
  user?: Principal;
  /** Why the request has no caller, thrown by AccessGuard once the rate limit has counted it. */
  authFailure?: UnauthenticatedError;
}

const MISSING_TOKEN = 'Missing bearer token (Authorization: Bearer <JWT>)';

/**
 * The one place a failed token check is worded for the client. passport-jwt
 * reports jsonwebtoken's error, its own 'No auth token', and the key
 * provider's (jwks-rsa's) errors as passport's `info`; validate() words its
 * own refusals (an UnauthenticatedError, passport's `err`).
 */
export function describeTokenFailure(failure: unknown): string {
  if (!(failure instanceof Error)) return 'Missing or invalid bearer token';
  if (failure.message === 'No auth token') return MISSING_TOKEN;
  if ((failure as { isEndpointUnavailable?: unknown }).isEndpointUnavailable === true) {
    // Network errors and non-2xx answers; their text is the JWKS server's or the OS's, not for clients.
    return 'Token key could not be found: JWKS endpoint unavailable';
  }
  switch (failure.name) {
    case 'TokenExpiredError':
      return 'Token has expired';
    case 'NotBeforeError':
      return 'Token is not valid yet (nbf)';
    case 'JsonWebTokenError':
      // 'invalid signature', 'jwt malformed', 'invalid algorithm', 'jwt audience invalid. expected: …'
      return `Invalid token: ${failure.message}`;
    case 'SigningKeyNotFoundError':
      // jwks-rsa's message quotes the kid, which is client input.
      return 'Token key could not be found: token signed with an unknown key (kid)';
    case 'TokenKeyError':
    case 'JwksRateLimitError': // 'Too many requests to the JWKS endpoint'
    case 'JwksError': // 'The JWKS endpoint did not contain any (signing) keys'
      return `Token key could not be found: ${failure.message}`;
    default:
      return 'Missing or invalid bearer token';
  }
}

/**
 * First of the global guards (see AppModule): authenticates every non-public
 * request with the 'jwt' strategy. It does not refuse anything: a failure is
 * recorded on the request, so the rate limit after it can count an
 * unauthenticated request against its address, and AccessGuard answers 401.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(private readonly routes: RouteAccessReader) {
    super();
  }

  override canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (this.routes.of(context).isPublic) return true;
    return super.canActivate(context) as Promise<boolean>;
  }

  /** @nestjs/passport stores what this returns as `request.user`. */
  override handleRequest<TUser = Principal>(err: unknown, user: TUser | false, info: unknown, context: ExecutionContext): TUser {
    if (user) return user;
    if (err instanceof Error && !(err instanceof UnauthenticatedError)) {
      // Anything but validate()'s own refusal is a bug, not a bad token: let the filter log it as a 500.
      throw err;
    }
    const request = context.switchToHttp().getRequest<GuardedRequest>();
    request.authFailure = err instanceof UnauthenticatedError ? err : new UnauthenticatedError(describeTokenFailure(info));
    return undefined as TUser;
  }
}
