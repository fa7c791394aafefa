import { type Env, ConfigError, readBool, readEnum, readInt, readVar } from './config-error';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface AppConfig {
  port: number;
  host: string;
  production: boolean;
  logLevel: LogLevel;
  /** Log one line per request (method, path, status, time); never headers or bodies. */
  logRequests: boolean;
  /** Largest accepted request body, bytes (413 above). */
  bodyLimit: number;
  /** Origins allowed by CORS; empty = CORS off. */
  corsOrigins: string[];
  /** Requests per token subject (or per address without a valid token) per window; 0 = no limit. */
  rateLimitMax: number;
  rateLimitWindowMs: number;
  /** Most callers whose counts are kept in memory; the oldest window is dropped first. */
  rateLimitCacheSize: number;
  /** Make `If-Match` mandatory on integration writes (428 without it). */
  requireIfMatch: boolean;
  /** Folder for the embedded database and the generated development keys. */
  dataDir: string;
  /** On SIGTERM/SIGINT, how long in-flight requests may take before their connections are cut. */
  shutdownGraceMs: number;
}

export function loadAppConfig(env: Env): AppConfig {
  const nodeEnv = readVar(env, 'NODE_ENV') ?? 'development';
  const production = nodeEnv === 'production';
  const corsOrigins = (readVar(env, 'CORS_ORIGINS') ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of corsOrigins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new ConfigError(`CORS_ORIGINS must be a comma-separated list of origins like https://app.example.com (got '${origin}')`);
    }
  }
  return {
    port: readInt(env, 'PORT', 3000, 0, 65535),
    host: readVar(env, 'HOST') ?? '0.0.0.0',
    production,
    logLevel: readEnum(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    logRequests: readBool(env, 'LOG_REQUESTS', true),
    bodyLimit: readInt(env, 'BODY_LIMIT', 64 * 1024, 1024, 10 * 1024 * 1024),
    corsOrigins,
    rateLimitMax: readInt(env, 'RATE_LIMIT_MAX', 100_000, 0, 10_000_000),
    rateLimitWindowMs: readInt(env, 'RATE_LIMIT_WINDOW_MS', 60_000, 1000, 3_600_000),
    rateLimitCacheSize: readInt(env, 'RATE_LIMIT_CACHE_SIZE', 100_000, 1, 10_000_000),
    requireIfMatch: readBool(env, 'REQUIRE_IF_MATCH', false),
    dataDir: readVar(env, 'DATA_DIR') ?? './data',
    shutdownGraceMs: readInt(env, 'SHUTDOWN_GRACE_MS', 8000, 0, 600_000),
  };
}
