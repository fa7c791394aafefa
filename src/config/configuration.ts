import { type AppConfig, loadAppConfig } from './app.config';
import { type AuditConfig, loadAuditConfig } from './audit.config';
import { type AuthConfig, loadAuthConfig } from './auth.config';
import { type ClientsConfig, loadClientsConfig } from './clients.config';
import { type Env, ConfigError, readVar } from './config-error';
import { type CryptoConfig, loadCryptoConfig } from './crypto.config';
import { type DatabaseConfig, loadDatabaseConfig } from './database.config';
import { ensureDevSecrets } from './dev-secrets';
import { type HistoryConfig, loadHistoryConfig } from './history.config';
import { loadRedisConfig, type RedisConfig } from './redis.config';
import { loadVerificationConfig, type VerificationConfig } from './verification.config';
import { loadWebhooksConfig, type WebhooksConfig } from './webhooks.config';

export interface Configuration {
  app: AppConfig;
  database: DatabaseConfig;
  auth: AuthConfig;
  /** API clients and the tokens this service signs itself (issue 13). */
  clients: ClientsConfig;
  crypto: CryptoConfig;
  verification: VerificationConfig;
  /** The audit trail: secret reads required or off, retention. */
  audit: AuditConfig;
  /** Versions of integrations: how many, and how long after a delete. */
  history: HistoryConfig;
  /** Webhook delivery (issue 15). */
  webhooks: WebhooksConfig;
  /** Shared state of several instances (issue 16); optional. */
  redis: RedisConfig;
  /** Settings that were generated into DATA_DIR because they were missing (development only). */
  generated: string[];
}

/** Injection token of the validated Configuration. */
export const CONFIGURATION = Symbol('Configuration');

/**
 * Reads and validates every setting. Throws a ConfigError whose one-line message
 * names the variable; in production nothing is generated and every missing
 * required setting is named at once.
 */
export function loadConfiguration(env: Env = process.env): Configuration {
  const app = loadAppConfig(env);
  const hasJwtKey = ['JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWT_JWKS_URL'].some((name) => readVar(env, name) !== undefined);
  const hasKeys = readVar(env, 'ENCRYPTION_KEYS') !== undefined;
  const generated: string[] = [];
  let devSecrets: { jwtSecret?: string; encryptionKeys?: string } = {};

  if (app.production) {
    const missing = [
      readVar(env, 'DATABASE_URL') === undefined && 'DATABASE_URL',
      !hasJwtKey && 'JWT_SECRET (or JWT_PUBLIC_KEY or JWT_JWKS_URL)',
      !hasKeys && 'ENCRYPTION_KEYS',
    ].filter(Boolean);
    if (missing.length > 0) {
      throw new ConfigError(`NODE_ENV=production needs these settings, which are missing: ${missing.join(', ')}`);
    }
  } else if (!hasJwtKey || !hasKeys) {
    const stored = ensureDevSecrets(app.dataDir);
    if (!hasJwtKey) {
      devSecrets.jwtSecret = stored.jwtSecret;
      generated.push('JWT_SECRET');
    }
    if (!hasKeys) {
      devSecrets = { ...devSecrets, encryptionKeys: stored.encryptionKeys };
      generated.push('ENCRYPTION_KEYS');
    }
  }

  const auth = loadAuthConfig(env, devSecrets.jwtSecret);
  return {
    app,
    database: loadDatabaseConfig(env, app.dataDir),
    auth,
    clients: loadClientsConfig(env, app, auth),
    crypto: loadCryptoConfig(env, devSecrets.encryptionKeys),
    verification: loadVerificationConfig(env),
    audit: loadAuditConfig(env),
    history: loadHistoryConfig(env),
    webhooks: loadWebhooksConfig(env),
    redis: loadRedisConfig(env),
    generated,
  };
}

export { ConfigError };
