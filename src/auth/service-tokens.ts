import { Injectable } from '@nestjs/common';
import type { Principal } from './scopes';

/** The passport strategy that checks the tokens this service signs itself (src/clients/service-token.strategy.ts). */
export const SERVICE_JWT = 'service-jwt';

/** The claims that pick a strategy and bound a cache entry, read without verifying anything. */
export interface UnverifiedClaims {
  iss?: string;
  exp?: number;
}

/**
 * The `iss` and `exp` claims of a compact JWS, read without verifying
 * anything: `iss` only picks which strategy (which keys, issuer and audience)
 * checks the token, `exp` only bounds how long a token that strategy accepted
 * is remembered. Empty for anything that is not a JWS; such tokens go to the
 * configured issuer's strategy, whose messages they have always had.
 */
export function claimsOf(token: string): UnverifiedClaims {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  // A payload of several kB is no token of ours: not worth decoding to find out.
  if (second < 0 || second - first > 8192) return {};
  try {
    const payload: unknown = JSON.parse(Buffer.from(token.slice(first + 1, second), 'base64url').toString('utf8'));
    if (typeof payload !== 'object' || payload === null) return {};
    const { iss, exp } = payload as { iss?: unknown; exp?: unknown };
    return { ...(typeof iss === 'string' ? { iss } : {}), ...(typeof exp === 'number' ? { exp } : {}) };
  } catch {
    return {};
  }
}

/** The `iss` of a compact JWS, unverified (see claimsOf). */
export function issuerOf(token: string): string | undefined {
  return claimsOf(token).iss;
}

/**
 * The API clients deleted recently enough for a token of theirs to be alive:
 * client id → when its last possible token expires (ms). Filled by the
 * clients module from the database (a poll every REVOCATION_POLL_MS on each
 * instance, and at once on the instance that deleted the client); read on
 * every request that carries a self-issued token, so a revoked client's token
 * fails without a query per request. Client ids are never reused, so the id
 * alone says which tokens are revoked.
 */
@Injectable()
export class RevokedClients {
  private readonly until = new Map<string, number>();

  has(clientId: string): boolean {
    const until = this.until.get(clientId);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.until.delete(clientId);
    return false;
  }

  add(clientId: string, untilMs: number): void {
    if (untilMs > (this.until.get(clientId) ?? 0)) this.until.set(clientId, untilMs);
  }

  /** Forgets revocations whose tokens have all expired. */
  prune(now = Date.now()): void {
    for (const [clientId, until] of this.until) if (until <= now) this.until.delete(clientId);
  }

  get size(): number {
    return this.until.size;
  }
}

interface CachedToken {
  principal: Principal;
  /** When the token stops being accepted (its exp plus the clock tolerance, or sooner), ms. */
  expiresAt: number;
  /** A self-issued token: its client's revocation is checked on every hit. */
  revocable: boolean;
}

/**
 * Tokens kept at most; beyond, the oldest entry goes first (a Map iterates in
 * insertion order). A few MB at most: enough for the tokens in use at once
 * by a deployment's services and API clients, while a stream of one-off
 * tokens only recycles entries.
 */
const MAX_CACHED_TOKENS = 4096;

/**
 * Tokens that passport has verified, by their exact text, so that a token
 * used for many requests is verified once: for a read, the signature check
 * and passport's own work cost as much CPU as a good part of the rest
 * (ES256 far more than that). Only outcomes that cannot change before the
 * entry expires are kept:
 *
 * - self-issued tokens until their expiry; their client's revocation is
 *   checked on every hit, and the clients module empties the cache whenever
 *   the published signing keys change;
 * - the configured issuer's tokens until their expiry when its key is fixed
 *   (JWT_SECRET, JWT_PUBLIC_KEY), where a check is a pure function of the
 *   token and the clock. With JWT_JWKS_URL the key set can change under us:
 *   those are never cached.
 *
 * Failures are never kept: each one goes through passport and gets its reason.
 */
@Injectable()
export class VerifiedTokenCache {
  private readonly tokens = new Map<string, CachedToken>();

  get(token: string, now = Date.now()): CachedToken | undefined {
    const entry = this.tokens.get(token);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > now) return entry;
    this.tokens.delete(token);
    return undefined;
  }

  set(token: string, principal: Principal, expiresAt: number, revocable: boolean): void {
    if (this.tokens.size >= MAX_CACHED_TOKENS) {
      const oldest = this.tokens.keys().next();
      if (!oldest.done) this.tokens.delete(oldest.value);
    }
    this.tokens.set(token, { principal, expiresAt, revocable });
  }

  clear(): void {
    this.tokens.clear();
  }

  get size(): number {
    return this.tokens.size;
  }
}
