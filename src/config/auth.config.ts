import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { type Env, ConfigError, readInt, readVar } from './config-error';

/**
 * How tokens are checked. The algorithm follows from the configured key and is
 * pinned, so a token cannot pick its own (no `none`, no HS256 signed with a
 * public key). Keys are KeyObjects: jsonwebtoken would otherwise re-parse a
 * string secret on every request.
 */
export type JwtKeySource =
  | { mode: 'secret'; algorithms: ['HS256']; key: KeyObject }
  | { mode: 'public-key'; algorithms: ['RS256'] | ['ES256']; key: KeyObject }
  | {
      mode: 'jwks';
      algorithms: ['RS256', 'ES256'];
      jwksUrl: string;
      /** How long a key fetched for a `kid` is trusted before the set is fetched again. */
      cacheTtlMs: number;
      /** Fetches of the set allowed per minute; tokens naming unknown kids cannot make us hammer the IdP. */
      requestsPerMinute: number;
      timeoutMs: number;
    };

export interface AuthConfig {
  keySource: JwtKeySource;
  /** The HS256 secret, kept only so the `token` command can mint development tokens. */
  secret?: string;
  issuer: string;
  audience: string;
  clockToleranceSec: number;
}

export function loadAuthConfig(env: Env, generatedSecret?: string): AuthConfig {
  const secret = readVar(env, 'JWT_SECRET') ?? generatedSecret;
  const publicKey = readVar(env, 'JWT_PUBLIC_KEY');
  const jwksUrl = readVar(env, 'JWT_JWKS_URL');
  const configured = [secret && 'JWT_SECRET', publicKey && 'JWT_PUBLIC_KEY', jwksUrl && 'JWT_JWKS_URL'].filter(Boolean);
  if (configured.length > 1) {
    throw new ConfigError(`JWT_SECRET, JWT_PUBLIC_KEY and JWT_JWKS_URL are alternatives: set exactly one (got ${configured.join(' and ')})`);
  }
  const common = {
    issuer: readVar(env, 'JWT_ISSUER') ?? 'integrations-api',
    audience: readVar(env, 'JWT_AUDIENCE') ?? 'integrations-api',
    clockToleranceSec: readInt(env, 'JWT_CLOCK_TOLERANCE_SEC', 5, 0, 30),
  };
  if (secret !== undefined) {
    if (Buffer.byteLength(secret) < 32) {
      throw new ConfigError('JWT_SECRET must be at least 32 bytes long (HS256 needs 256 bits of secret)');
    }
    return { ...common, secret, keySource: { mode: 'secret', algorithms: ['HS256'], key: createSecretKey(Buffer.from(secret)) } };
  }
  if (publicKey !== undefined) return { ...common, keySource: parsePublicKey(publicKey) };
  if (jwksUrl !== undefined) {
    if (!/^https?:\/\//.test(jwksUrl)) throw new ConfigError(`JWT_JWKS_URL must be an http(s) URL (got '${jwksUrl}')`);
    return {
      ...common,
      keySource: {
        mode: 'jwks',
        algorithms: ['RS256', 'ES256'],
        jwksUrl,
        // At least 1 ms: jwks-rsa's cache reads a TTL of 0 as "never expires", which would keep removed keys working.
        cacheTtlMs: readInt(env, 'JWT_JWKS_CACHE_TTL_MS', 300_000, 1, 86_400_000),
        requestsPerMinute: readInt(env, 'JWT_JWKS_REQUESTS_PER_MINUTE', 10, 1, 10_000),
        timeoutMs: readInt(env, 'JWT_JWKS_TIMEOUT_MS', 5000, 100, 60_000),
      },
    };
  }
  throw new ConfigError('JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL must be set (the key that checks bearer tokens)');
}

function parsePublicKey(pem: string): JwtKeySource {
  let key: KeyObject;
  try {
    // Environment files often carry PEM with literal "\n".
    key = createPublicKey(pem.replace(/\\n/g, '\n'));
  } catch {
    throw new ConfigError('JWT_PUBLIC_KEY must be a PEM public key (-----BEGIN PUBLIC KEY-----)');
  }
  if (key.asymmetricKeyType === 'rsa') return { mode: 'public-key', algorithms: ['RS256'], key };
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    return { mode: 'public-key', algorithms: ['ES256'], key };
  }
  throw new ConfigError('JWT_PUBLIC_KEY must be an RSA key (RS256) or an EC P-256 key (ES256)');
}
