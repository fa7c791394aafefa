import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';

/** Refetches at most this often when a token names a kid the cached set lacks. */
const UNKNOWN_KID_REFETCH_COOLDOWN_MS = 10_000;
const FETCH_TIMEOUT_MS = 5_000;

export class JwksError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JwksError';
  }
}

/**
 * Public keys from a JWKS URL, chosen by the token's `kid`. The set is cached
 * for `cacheTtlMs`: a key added upstream is picked up on the first token that
 * names it, a key removed upstream stops working when the cache expires.
 */
export class JwksKeyProvider {
  private keys = new Map<string, KeyObject>();
  private fetchedAt = 0;
  private inflight: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    private readonly cacheTtlMs: number,
  ) {}

  async keyFor(kid: string | undefined): Promise<KeyObject> {
    if (kid === undefined) throw new JwksError('token has no kid header');
    const age = Date.now() - this.fetchedAt;
    if (age > this.cacheTtlMs || (!this.keys.has(kid) && age > UNKNOWN_KID_REFETCH_COOLDOWN_MS)) await this.refresh();
    const key = this.keys.get(kid);
    if (key === undefined) throw new JwksError('token signed with an unknown key (kid)');
    return key;
  }

  private refresh(): Promise<void> {
    this.inflight ??= this.fetchKeys().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async fetchKeys(): Promise<void> {
    let body: { keys?: unknown };
    try {
      const response = await fetch(this.url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      if (!response.ok) throw new JwksError(`JWKS endpoint answered ${response.status}`);
      body = (await response.json()) as { keys?: unknown };
    } catch (error) {
      // Keep serving with the keys we have; the next token retries after the cooldown.
      this.fetchedAt = Date.now();
      throw error instanceof JwksError ? error : new JwksError('JWKS endpoint unreachable');
    }
    const keys = new Map<string, KeyObject>();
    for (const jwk of Array.isArray(body.keys) ? (body.keys as (JsonWebKey & { kid?: unknown; use?: unknown })[]) : []) {
      if (typeof jwk.kid !== 'string' || (jwk.use !== undefined && jwk.use !== 'sig')) continue;
      try {
        keys.set(jwk.kid, createPublicKey({ key: jwk, format: 'jwk' }));
      } catch {
        // An unusable entry must not hide the others.
      }
    }
    this.keys = keys;
    this.fetchedAt = Date.now();
  }
}
