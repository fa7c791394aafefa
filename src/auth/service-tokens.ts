import { Injectable } from '@nestjs/common';
import type { Principal } from './scopes';

/** The passport strategy that checks the tokens this service signs itself (src/clients/service-token.strategy.ts). */
export const SERVICE_JWT = 'service-jwt';

/**
 * The `iss` claim of a compact JWS, read without verifying anything: it only
 * picks which strategy (which keys, issuer and audience) checks the token.
 * Undefined for anything that is not a JWS with a string `iss`; such tokens go
 * to the configured issuer's strategy, whose messages they have always had.
 */
export function issuerOf(token: string): string | undefined {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  // A payload of several kB is no token of ours: not worth decoding to find out.
  if (second < 0 || second - first > 8192) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(token.slice(first + 1, second), 'base64url').toString('utf8'));
    const iss = typeof payload === 'object' && payload !== null ? (payload as { iss?: unknown }).iss : undefined;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
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
  /** When the token stops being accepted (its exp plus the clock tolerance), ms. */
  expiresAt: number;
}

/** Tokens kept at most; beyond, the oldest entry goes first (a Map iterates in insertion order). */
const MAX_CACHED_TOKENS = 10_000;

/**
 * Self-issued tokens that passport has verified, by their exact text: ES256
 * verification costs about as much CPU as the rest of a read, and a client
 * uses one token for many requests. A hit still has its expiry checked and its
 * client looked up in RevokedClients on every request; the clients module
 * empties the cache whenever the published signing keys change. Tokens of the
 * configured issuer are never cached: their keys (a JWKS) can change under us.
 */
@Injectable()
export class VerifiedTokenCache {
  private readonly tokens = new Map<string, CachedToken>();

  get(token: string, now = Date.now()): Principal | undefined {
    const entry = this.tokens.get(token);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > now) return entry.principal;
    this.tokens.delete(token);
    return undefined;
  }

  set(token: string, principal: Principal, expiresAt: number): void {
    if (this.tokens.size >= MAX_CACHED_TOKENS) {
      const oldest = this.tokens.keys().next();
      if (!oldest.done) this.tokens.delete(oldest.value);
    }
    this.tokens.set(token, { principal, expiresAt });
  }

  clear(): void {
    this.tokens.clear();
  }

  get size(): number {
    return this.tokens.size;
  }
}
