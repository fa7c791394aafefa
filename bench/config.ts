import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

/** Settings of one bench run, from the environment (every one has a default that fits the 2-core machine). */
export interface BenchConfig {
  /** Seconds of each measured run. */
  duration: number;
  /** Seconds of warm-up before each measured run (same load, not recorded). */
  warmup: number;
  /** A B rounds per scenario (service, then baseline, alternating). */
  rounds: number;
  connections: number;
  /** Tenants of the small data set (10 integrations each). */
  tenants: number;
  /** Tenants of the 100x data set (scenario 4); 0 skips it. */
  bigTenants: number;
  /** MariaDB server (no database part): mysql://user[:pass]@host:port */
  mysqlUrl: string;
  dbName: string;
  bigDbName: string;
  /** Keep the databases at the end (and reuse them when the next run finds them complete). */
  keepDb: boolean;
  /** Comma-separated scenario numbers to run, e.g. "1,4" (bench/load.ts names them). */
  scenarios: Set<number>;
  /** Size to grow InnoDB's buffer pool to for the run (bytes), 0 = leave it alone. */
  bufferPool: number | 'auto';
  /** Cold-start samples (0 skips the measurement). */
  coldStarts: number;
  resultsDir: string;
  root: string;
}

function int(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min} (got '${raw}')`);
  return value;
}

function bytes(name: string): number | 'auto' {
  const raw = (process.env[name] ?? 'auto').trim();
  if (raw === 'auto') return 'auto';
  if (raw === '0' || raw === 'keep') return 0;
  const match = /^(\d+)([kmg]?)$/i.exec(raw);
  if (match === null) throw new Error(`${name} must be auto, keep, or a size like 2G / 512M (got '${raw}')`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(match[1]) * unit;
}

export function loadBenchConfig(): BenchConfig {
  const root = join(__dirname, '..');
  // 6 and 7 (bench/tokens.ts) measure the service's own tokens, the service alone.
  const scenarios = (process.env.BENCH_SCENARIOS ?? '1,2,3,4,5,6,7')
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => [1, 2, 3, 4, 5, 6, 7].includes(n));
  return {
    duration: int('BENCH_DURATION', 10, 1),
    warmup: int('BENCH_WARMUP', 3, 0),
    rounds: int('BENCH_ROUNDS', 2, 1),
    connections: int('BENCH_CONNECTIONS', 50, 1),
    tenants: int('BENCH_TENANTS', 1000, 1),
    bigTenants: int('BENCH_BIG_TENANTS', 100_000, 0),
    mysqlUrl: (process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306').replace(/\/+$/, ''),
    dbName: process.env.BENCH_DB ?? 'integrations_bench',
    bigDbName: process.env.BENCH_BIG_DB ?? 'integrations_bench_big',
    keepDb: process.env.BENCH_KEEP_DB === '1',
    scenarios: new Set(scenarios),
    bufferPool: bytes('BENCH_BUFFER_POOL'),
    coldStarts: int('BENCH_COLD_STARTS', 3, 0),
    resultsDir: join(root, 'bench', 'results'),
    root,
  };
}

/**
 * Secrets shared by the service, the baseline and the load generator for one
 * run. Fresh per run unless BENCH_KEYS_FILE pins them (needed to reuse a kept
 * database, whose data keys are wrapped by the master key).
 */
export interface BenchSecrets {
  jwtSecret: string;
  /** ENCRYPTION_KEYS value: `id:base64(32 bytes)`. */
  encryptionKeys: string;
}

export function freshSecrets(): BenchSecrets {
  return {
    jwtSecret: randomBytes(48).toString('base64url'),
    encryptionKeys: `bench-${randomBytes(3).toString('hex')}:${randomBytes(32).toString('base64')}`,
  };
}

export const JWT_ISSUER = 'integrations-api';
export const JWT_AUDIENCE = 'integrations-api';

export function databaseUrl(config: BenchConfig, db: string): string {
  return `${config.mysqlUrl}/${db}`;
}
