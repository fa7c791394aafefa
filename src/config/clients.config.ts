import { type Env, ConfigError, readDuration, readInt, readVar } from './config-error';

/**
 * The service's own authorization server (issue 13): API clients, the
 * client-credentials token endpoint and the tokens it signs. These tokens are
 * checked beside the configured issuer's (auth.config.ts), each against its
 * own keys, issuer and audience.
 */
export interface ClientsConfig {
  /** `iss` of the tokens this service signs, and the RFC 8414 issuer identifier (token endpoint and JWKS below it). */
  issuer: string;
  /** `aud` of those tokens: this API. */
  audience: string;
  /** Lifetime of an issued access token, seconds. */
  tokenTtlSeconds: number;
  /** How long a rotated client secret keeps working beside the new one, seconds. */
  secretOverlapSeconds: number;
  /** Failed client authentications allowed per client id, and per address, within `failureWindowMs` (then 429). */
  maxFailuresPerClient: number;
  maxFailuresPerAddress: number;
  failureWindowMs: number;
  /** How often each instance reads new revocations (deleted clients) from the database. */
  revocationPollMs: number;
}

export function loadClientsConfig(env: Env, app: { port: number }, external: { issuer: string; audience: string }): ClientsConfig {
  // A default that works out of the box on a development machine; production sets its public https URL.
  const issuer = (readVar(env, 'TOKEN_ISSUER') ?? `http://localhost:${app.port}`).replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new ConfigError(`TOKEN_ISSUER must be the service's public URL, like https://integrations.example.com (got '${issuer}')`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search !== '' || url.hash !== '' || url.username !== '') {
    throw new ConfigError(`TOKEN_ISSUER must be an http(s) URL without query, fragment or user name (RFC 8414), like https://integrations.example.com`);
  }
  // The issuer is what picks the keys a token is checked with: the two must never be confused.
  if (issuer === external.issuer) {
    throw new ConfigError(`TOKEN_ISSUER must differ from JWT_ISSUER ('${external.issuer}'): the issuer decides which keys check a token`);
  }
  return {
    issuer,
    audience: readVar(env, 'TOKEN_AUDIENCE') ?? external.audience,
    tokenTtlSeconds: readDuration(env, 'TOKEN_TTL', 15 * 60, 60, 24 * 3600),
    secretOverlapSeconds: readDuration(env, 'CLIENT_SECRET_OVERLAP', 24 * 3600, 0, 30 * 86400),
    maxFailuresPerClient: readInt(env, 'TOKEN_MAX_FAILURES_PER_CLIENT', 10, 1, 10_000_000),
    maxFailuresPerAddress: readInt(env, 'TOKEN_MAX_FAILURES_PER_ADDRESS', 50, 1, 10_000_000),
    failureWindowMs: readInt(env, 'TOKEN_FAILURE_WINDOW_MS', 60_000, 1000, 3_600_000),
    revocationPollMs: readInt(env, 'REVOCATION_POLL_MS', 500, 50, 10_000),
  };
}
