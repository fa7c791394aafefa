import { type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import { ExtractJwt } from 'passport-jwt';
import { UnauthenticatedError } from '../common/errors/domain-errors';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { RouteAccessReader } from './route-access';
import type { Principal } from './scopes';
import { claimsOf, RevokedClients, SERVICE_JWT, VerifiedTokenCache } from './service-tokens';

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

/** The refusal of a token whose API client was deleted (issue 13). */
export const REVOKED_TOKEN = 'Token has been revoked: its API client was deleted';

/** A principal from a token this service signed: it also says when the token expires, for VerifiedTokenCache. */
export interface ServicePrincipal extends Principal {
  /** The token's exp plus the clock tolerance, ms. */
  readonly tokenExpiresAt: number;
}

const isServicePrincipal = (user: unknown): user is ServicePrincipal =>
  typeof (user as Partial<ServicePrincipal> | undefined)?.tokenExpiresAt === 'number';

/** The same extraction as both strategies (passport-jwt's), so the guard and passport always see the same token. */
const bearerToken = ExtractJwt.fromAuthHeaderAsBearerToken();

/** The guard's second passport strategy, for self-issued tokens; its outcome goes through the same handleRequest. */
class ServiceTokenGuard extends AuthGuard(SERVICE_JWT) {
  constructor(private readonly outer: JwtAuthGuard) {
    super();
  }

  override handleRequest<TUser = Principal>(err: unknown, user: TUser | false, info: unknown, context: ExecutionContext): TUser {
    return this.outer.handleRequest(err, user, info, context);
  }
}

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
 * request through passport. It does not refuse anything: a failure is
 * recorded on the request, so the rate limit after it can count an
 * unauthenticated request against its address, and AccessGuard answers 401.
 *
 * Two issuers are accepted, each checked against its own keys, issuer and
 * audience: the configured one ('jwt' strategy: JWT_SECRET, JWT_PUBLIC_KEY or
 * JWT_JWKS_URL) and this service itself ('service-jwt': API clients' tokens
 * from POST /token, ES256 under its own signing keys). The unverified `iss`
 * picks the strategy; it cannot pick a weaker check, since each strategy
 * insists on its own issuer, keys and algorithms. Anything that does not
 * name the service's issuer goes to 'jwt', so the configured issuer's tokens
 * (and every malformed token) get the answers they always had.
 *
 * A token passport accepted is remembered by its text (VerifiedTokenCache),
 * so the same token is not verified again on every request; failures always
 * go through passport.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  private readonly serviceIssuer: string;
  /** Whether the configured issuer's verdicts can be cached (a fixed key; not a JWKS, whose keys change). */
  private readonly cacheExternal: boolean;
  private readonly toleranceMs: number;
  private readonly serviceTokens = new ServiceTokenGuard(this);

  constructor(
    private readonly routes: RouteAccessReader,
    @Inject(CONFIGURATION) config: Configuration,
    private readonly verified: VerifiedTokenCache,
    private readonly revoked: RevokedClients,
  ) {
    super();
    this.serviceIssuer = config.clients.issuer;
    this.cacheExternal = config.auth.keySource.mode !== 'jwks';
    this.toleranceMs = config.auth.clockToleranceSec * 1000;
  }

  override canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (this.routes.of(context).isPublic) return true;
    const request = context.switchToHttp().getRequest<GuardedRequest>();
    const token = bearerToken(request);
    if (token === null) return super.canActivate(context) as Promise<boolean>;
    const known = this.verified.get(token);
    if (known !== undefined) {
      // Verified before by passport: only what can change since then is checked again (expiry above, revocation here).
      if (known.revocable && this.revoked.has(known.principal.subject)) request.authFailure = new UnauthenticatedError(REVOKED_TOKEN);
      else request.user = known.principal;
      return true;
    }
    if (claimsOf(token).iss === this.serviceIssuer) return this.serviceTokens.canActivate(context) as Promise<boolean>;
    return super.canActivate(context) as Promise<boolean>;
  }

  /** @nestjs/passport stores what this returns as `request.user`. */
  override handleRequest<TUser = Principal>(err: unknown, user: TUser | false, info: unknown, context: ExecutionContext): TUser {
    if (user) {
      this.remember(context, user as unknown as Principal);
      return user;
    }
    if (err instanceof Error && !(err instanceof UnauthenticatedError)) {
      // Anything but validate()'s own refusal is a bug, not a bad token: let the filter log it as a 500.
      throw err;
    }
    const request = context.switchToHttp().getRequest<GuardedRequest>();
    request.authFailure = err instanceof UnauthenticatedError ? err : new UnauthenticatedError(describeTokenFailure(info));
    return undefined as TUser;
  }

  /** Keeps a verdict that cannot change before the token expires (see VerifiedTokenCache). */
  private remember(context: ExecutionContext, principal: Principal): void {
    const token = bearerToken(context.switchToHttp().getRequest<GuardedRequest>());
    if (token === null) return;
    if (isServicePrincipal(principal)) {
      this.verified.set(token, principal, principal.tokenExpiresAt, true);
      return;
    }
    const { exp } = claimsOf(token);
    // validate() required a numeric exp; passport verified this very text.
    if (this.cacheExternal && exp !== undefined) this.verified.set(token, principal, exp * 1000 + this.toleranceMs, false);
  }
}
