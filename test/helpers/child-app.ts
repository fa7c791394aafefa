import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { loadDatabaseConfig } from '../../src/config/database.config';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { NO_VENDORS, TEST_JWT_SECRET, TEST_KEY_A } from './test-app';

const ROOT = join(__dirname, '..', '..');

/** `node dist/main.js` must run what src says: build it first when it is stale. */
export function buildIfNeeded(): void {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-if-needed.js')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * The database a child process and the test share: the MySQL/MariaDB of
 * DATABASE_URL (its name must say "test"), else an SQLite file in `dir`.
 */
export function sharedDatabaseUrl(dir: string): string {
  const url = process.env.DATABASE_URL;
  if (url === undefined || url === '' || url.startsWith('sqlite:')) return `sqlite:${join(dir, 'child.sqlite')}`;
  const name = new URL(url).pathname.slice(1);
  if (!/test/i.test(name)) throw new Error(`Refusing to run e2e tests on database '${name}': its name must contain "test"`);
  return url;
}

export const isMysqlUrl = (url: string | undefined): boolean => url !== undefined && /^(mysql|mariadb):\/\//.test(url);

export interface ChildApp {
  url: string;
  port: number;
  process: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output: () => string;
  /** Resolves with how the process ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL if still running, and remove its data directory. */
  kill: () => Promise<void>;
}

/**
 * The V8 flags of `npm start` and the Dockerfile's CMD (bench/README.md,
 * "Memory", says why): the child runs exactly as the service is started.
 */
const SERVICE_V8_FLAGS = ['--no-allocation-site-pretenuring', '--heap-growing-percent=50'];

/**
 * Runs the built service as production does (`node <V8 flags> dist/main.js`), so
 * what it prints and how it reacts to signals are the real thing.
 */
export async function startChildApp(env: Record<string, string>, dataDir?: string): Promise<ChildApp> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'integrations-child-'));
  const port = await freePort();
  let output = '';
  const child = spawn(process.execPath, [...SERVICE_V8_FLAGS, join(ROOT, 'dist', 'main.js')], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dir,
      JWT_SECRET: TEST_JWT_SECRET,
      ENCRYPTION_KEYS: TEST_KEY_A,
      RATE_LIMIT_MAX: '0',
      ...NO_VENDORS,
      LOG_LEVEL: 'info',
      DATABASE_URL: sharedDatabaseUrl(dir),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the service exited at start:\n${output}`);
    try {
      if ((await fetch(`${url}/health/live`)).status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() - started > 20_000) {
      child.kill('SIGKILL');
      throw new Error(`the service did not start within 20 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    port,
    process: child,
    output: () => output,
    exited,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      if (dataDir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A direct connection to the child's database, for what a test must read or break behind the API's back. */
export async function openDatabase(url: string): Promise<DataSource> {
  const dataSource = new DataSource(dataSourceOptions(loadDatabaseConfig({ DATABASE_URL: url }, tmpdir())));
  return dataSource.initialize();
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `${prefix}-`));
}
