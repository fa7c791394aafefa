import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { passportJwtSecret } from 'jwks-rsa';
import { JsonWebTokenError, type JwtPayload } from 'jsonwebtoken';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { ExtractJwt, Strategy, type SecretOrKeyProvider } from 'passport-jwt';
import { UnauthenticatedError } from '../common/errors/domain-errors';
import { isResourceId } from '../common/validation/resource-id';
import type { JwtKeySource } from '../config/auth.config';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { Scope, type Principal } from './scopes';

type Claims = JwtPayload & { scope?: unknown; tenants?: unknown };

/** A token the JWKS cannot give a key for, before jwks-rsa is asked. */
export class TokenKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenKeyError';
  }
}

/**
 * passport-jwt hands the key to jsonwebtoken untouched, and jsonwebtoken uses a
 * KeyObject as it is; a string or Buffer would be parsed again on every request.
 * @types/passport-jwt only lists string | Buffer, hence the cast.
 */
const asPassportKey = (key: KeyObject): Buffer => key as unknown as Buffer;

/** The header of a compact JWS, or undefined when it is not one. */
function headerOf(token: string): { alg?: unknown; kid?: unknown } | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null ? header : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Keys from the JWKS URL through jwks-rsa: the `kid` lookup, its cache
 * (a key removed upstream stops working once `cacheTtlMs` has passed; an
 * unknown kid triggers a fetch) and the limit on fetches are jwks-rsa's.
 * Around it: a token must name a kid and one of the pinned algorithms before
 * it may cause a fetch, a key that cannot be found is an error (jwks-rsa's
 * default hands passport-jwt no key, whose message would hide why), and the
 * PEM jwks-rsa returns becomes a KeyObject once per key, not once per request.
 */
function jwksKeyProvider(source: Extract<JwtKeySource, { mode: 'jwks' }>): SecretOrKeyProvider {
  const jwks = passportJwtSecret({
    jwksUri: source.jwksUrl,
    cache: true,
    cacheMaxAge: source.cacheTtlMs,
    rateLimit: true,
    jwksRequestsPerMinute: source.requestsPerMinute,
    timeout: source.timeoutMs,
    handleSigningKeyError: (error, cb) => cb(error),
  });
  const pinned: readonly string[] = source.algorithms;
  const keyObjects = new Map<string, KeyObject>();
  const keyObjectOf = (pem: string): KeyObject => {
    let key = keyObjects.get(pem);
    if (key === undefined) {
      // A handful of keys in any real JWKS; the bound only guards against a misbehaving endpoint.
      if (keyObjects.size >= 32) keyObjects.clear();
      keyObjects.set(pem, (key = createPublicKey(pem)));
    }
    return key;
  };
  return (request: unknown, token: string, done: (error: unknown, key?: Buffer) => void) => {
    const header = headerOf(token);
    // Not a JWS at all: no key, and jsonwebtoken says what is wrong with it ('jwt malformed', 'invalid token').
    if (header === undefined) return done(null);
    if (typeof header.alg !== 'string' || !pinned.includes(header.alg)) return done(new JsonWebTokenError('invalid algorithm'));
    if (typeof header.kid !== 'string' || header.kid === '') return done(new TokenKeyError('token has no kid header'));
    jwks(request, token, (error: unknown, pem?: string | Buffer) => {
      if (error) return done(error);
      try {
        done(null, asPassportKey(keyObjectOf(String(pem))));
      } catch {
        done(new TokenKeyError('the JWKS holds an unusable key for this kid'));
      }
    });
  };
}

/**
 * The claims this service needs beyond what jsonwebtoken checks, as a Principal.
 * A failure here is an UnauthenticatedError with the message the client sees.
 */
export function principalOf(payload: Claims): Principal {
  if (typeof payload.exp !== 'number') throw new UnauthenticatedError('Token has no exp claim');
  if (typeof payload.sub !== 'string' || payload.sub === '') throw new UnauthenticatedError('Token has no sub claim');
  if (payload.scope !== undefined && typeof payload.scope !== 'string') {
    throw new UnauthenticatedError('Token scope claim must be a space-separated string');
  }
  if (payload.tenants !== undefined && !(Array.isArray(payload.tenants) && payload.tenants.every((t) => typeof t === 'string'))) {
    throw new UnauthenticatedError('Token tenants claim must be an array of tenant ids');
  }
  const scopes = new Set((payload.scope ?? '').split(' ').filter(Boolean));
  return {
    subject: payload.sub,
    scopes,
    // An entry that cannot be a tenant id can only match one by accident (MySQL ignores trailing spaces).
    tenants: new Set((payload.tenants ?? []).filter((tenant) => isResourceId(tenant))),
    admin: scopes.has(Scope.PlatformAdmin),
  };
}

/**
 * Bearer tokens, checked by passport-jwt (which runs jsonwebtoken): the
 * signature with the configured key (a KeyObject, built once at start) or the
 * JWKS key named by `kid`, the algorithms pinned by the key type, `iss`, `aud`,
 * `exp` and `nbf` with the configured clock tolerance; then validate() requires
 * `exp` and `sub` and reads `scope` and `tenants`.
 *
 * Failures reach JwtAuthGuard.handleRequest, which words them for the client.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(@Inject(CONFIGURATION) config: Configuration) {
    const { keySource, issuer, audience, clockToleranceSec } = config.auth;
    const key =
      keySource.mode === 'jwks' ? { secretOrKeyProvider: jwksKeyProvider(keySource) } : { secretOrKey: asPassportKey(keySource.key) };
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      ...key,
      algorithms: [...keySource.algorithms],
      issuer,
      audience,
      ignoreExpiration: false,
      // The one jsonwebtoken option passport-jwt has no setting of its own for.
      jsonWebTokenOptions: { clockTolerance: clockToleranceSec },
    });
  }

  validate(payload: Claims): Principal {
    return principalOf(payload);
  }
}
