import { Inject, Injectable } from '@nestjs/common';
import type { KeyObject } from 'node:crypto';
import { decode, verify, type JwtPayload, type VerifyOptions } from 'jsonwebtoken';
import { UnauthenticatedError } from '../common/errors/domain-errors';
import { isResourceId } from '../common/validation/resource-id';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { JwksKeyProvider } from './jwks-key-provider';
import { Scope, type Principal } from './scopes';

type Claims = JwtPayload & { scope?: unknown; tenants?: unknown };

/** `Authorization: Bearer <token>`, the scheme in any case (RFC 6750, RFC 9110 §11.1). */
const BEARER = /^\s*bearer\s+(\S+)\s*$/i;

/** Messages of jsonwebtoken failures that are safe and useful to show. */
function describeTokenFailure(error: unknown): string {
  if (!(error instanceof Error)) return 'Missing or invalid bearer token';
  switch (error.name) {
    case 'TokenExpiredError':
      return 'Token has expired';
    case 'NotBeforeError':
      return 'Token is not valid yet (nbf)';
    case 'JwksError':
      return `Token key could not be found: ${error.message}`;
    case 'JsonWebTokenError':
      // 'invalid signature', 'jwt malformed', 'invalid algorithm', 'jwt audience invalid. expected: …'
      return `Invalid token: ${error.message}`;
    default:
      return 'Missing or invalid bearer token';
  }
}

/** The claims this service needs beyond what jsonwebtoken checks, as a Principal. */
function principalOf(payload: Claims): Principal {
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
 * Verifies bearer tokens with jsonwebtoken: signature with the configured key
 * (a KeyObject, parsed once) and its pinned algorithm, `exp` (required),
 * `nbf`, `iss`, `aud`, then the claims this service needs (`sub`, `scope`,
 * `tenants`).
 *
 * The guard calls it directly. The first version went through @nestjs/passport
 * and passport-jwt, which run the same jsonwebtoken check; their per-request
 * wrapping (a strategy object per request, callbacks, promise) cost more than
 * the check itself on the hot path (issue 7 has the numbers).
 */
@Injectable()
export class TokenVerifier {
  private readonly options: VerifyOptions & { complete?: false };
  private readonly key?: KeyObject;
  private readonly jwks?: JwksKeyProvider;

  constructor(@Inject(CONFIGURATION) config: Configuration) {
    const { keySource, issuer, audience, clockToleranceSec } = config.auth;
    this.options = { algorithms: [...keySource.algorithms], issuer, audience, clockTolerance: clockToleranceSec, ignoreExpiration: false };
    if (keySource.mode === 'jwks') this.jwks = new JwksKeyProvider(keySource.jwksUrl, keySource.cacheTtlMs);
    else this.key = keySource.key;
  }

  /** The caller of a request, from its Authorization header; UnauthenticatedError (401) otherwise. */
  authenticate(authorization: string | undefined): Principal | Promise<Principal> {
    const token = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
    if (token === undefined) throw new UnauthenticatedError('Missing bearer token (Authorization: Bearer <JWT>)');
    if (this.key !== undefined) return principalOf(this.verify(token, this.key));
    return this.keyFromJwks(token).then((key) => principalOf(this.verify(token, key)));
  }

  private verify(token: string, key: KeyObject): Claims {
    try {
      return verify(token, key, this.options) as Claims;
    } catch (error) {
      throw new UnauthenticatedError(describeTokenFailure(error));
    }
  }

  private async keyFromJwks(token: string): Promise<KeyObject> {
    const header = decode(token, { complete: true })?.header;
    try {
      return await this.jwks!.keyFor(header?.kid);
    } catch (error) {
      throw new UnauthenticatedError(describeTokenFailure(error));
    }
  }
}
