/**
 * What bench/run.ts and bench/profile.ts share: building, MariaDB, the
 * databases, and starting the service or the baseline as its own process.
 */
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { createConnection, createPool, type Connection, type RowDataPacket } from 'mysql2/promise';
import ts from 'typescript';
import { findVendor, VENDOR_TYPES } from '../src/integrations/vendors/registry';
import { BASELINE_VENDORS } from './baseline/vendors';
import { databaseUrl, freshSecrets, type BenchConfig, type BenchSecrets } from './config';
import { INTEGRATION_PLAN, seedDatabase } from './seed';
import { freePort, startServer, type RunningServer } from './servers';

export type Side = 'service' | 'baseline';

/** A build of the service to start: this checkout's dist/ (Harness.service) or an earlier revision's (bench/revision.ts). */
export interface ServiceBuild {
  /** Names the process in progress lines and errors. */
  name: string;
  /** The directory that holds main.js. */
  dist: string;
  /** Receives the process's output. */
  logFile: string;
}

const t0 = Date.now();

export function log(line: string): void {
  process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
}

export const mib = (bytes: number): string => `${Math.round(bytes / 1024 / 1024)} MB`;
export const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Load average over the last minute, with a warning when other work competes for the 2 cores. */
export function machineLoad(): number {
  return Math.round(loadavg()[0] * 100) / 100;
}

/** What two harnesses of one run share (bench/cluster.ts: one per MariaDB server): the name of its files and its keys. */
export interface SharedRun {
  stamp: string;
  secrets: BenchSecrets;
}

export class Harness {
  readonly stamp: string;
  readonly serviceLog: string;
  readonly baselineLog: string;
  readonly dataDir: string;
  readonly secrets: BenchSecrets;
  /** This checkout's build, what `start('service', …)` runs. */
  readonly service: ServiceBuild;
  baselineScript = '';
  private admin: Connection | undefined;
  private readonly running = new Set<RunningServer>();

  /**
   * One harness per MariaDB server (config.mysqlUrl). A second harness of the
   * same run passes the first as `shared`: same file names, same JWT secret and
   * master key, so one TokenBook works for every server.
   */
  constructor(
    readonly config: BenchConfig,
    shared?: SharedRun,
  ) {
    this.stamp = shared?.stamp ?? new Date().toISOString().replace(/[:.]/g, '-');
    mkdirSync(config.resultsDir, { recursive: true });
    this.serviceLog = join(config.resultsDir, `${this.stamp}-service.log`);
    this.baselineLog = join(config.resultsDir, `${this.stamp}-baseline.log`);
    this.service = { name: 'service', dist: join(config.root, 'dist'), logFile: this.serviceLog };
    this.dataDir = mkdtempSync(join(tmpdir(), 'bench-service-'));
    // A kept database's data keys are wrapped by this run's master key: keep the keys with it.
    const secretsFile = join(config.resultsDir, 'bench-secrets.json');
    if (shared !== undefined) this.secrets = shared.secrets;
    else {
      this.secrets =
        config.keepDb && existsSync(secretsFile) ? (JSON.parse(readFileSync(secretsFile, 'utf8')) as BenchSecrets) : freshSecrets();
      if (config.keepDb) writeFileSync(secretsFile, JSON.stringify(this.secrets), { mode: 0o600 });
    }
  }

  /** dist/ for the service (scripts/build-if-needed.js), plain JS for the baseline. */
  build(): void {
    this.buildService();
    checkBaselineVendors();
    this.baselineScript = buildBaseline(this.config);
  }

  /** This checkout's dist/, built when it is older than a source (scripts/build-if-needed.js). */
  buildService(): void {
    execFileSync(process.execPath, [join(this.config.root, 'scripts', 'build-if-needed.js')], { stdio: 'inherit' });
  }

  /** Another build of the service (dist/ holding main.js), its output in its own log. */
  serviceBuild(name: string, dist: string): ServiceBuild {
    return { name, dist, logFile: join(this.config.resultsDir, `${this.stamp}-${name}.log`) };
  }

  get db(): Connection {
    if (this.admin === undefined) throw new Error('connectMaria() first');
    return this.admin;
  }

  /** The admin connection to config.mysqlUrl; when nothing answers there, starts /usr/sbin/mariadbd, unless `startIfDown` is false (then it throws). */
  async connectMaria(startIfDown = true): Promise<Connection> {
    const tryConnect = (): Promise<Connection> => createConnection({ uri: this.config.mysqlUrl, connectTimeout: 2000 });
    try {
      this.admin = await tryConnect();
    } catch (error) {
      if (!startIfDown) throw error;
      log('MariaDB does not answer; starting it (start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd)');
      execFileSync('start-stop-daemon', ['--start', '--oknodo', '--background', '--exec', '/usr/sbin/mariadbd'], { stdio: 'inherit' });
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          this.admin = await tryConnect();
          break;
        } catch (error) {
          if (Date.now() > deadline)
            throw new Error(`MariaDB did not answer within 60 s at ${this.config.mysqlUrl}: ${(error as Error).message}`);
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    }
    return this.admin;
  }

  async scalar(sql: string, params: unknown[] = []): Promise<number> {
    const [rows] = await this.db.query<RowDataPacket[]>(sql, params);
    return Number(Object.values(rows[0] ?? {})[0] ?? 0);
  }

  /**
   * InnoDB bytes of the seeded tables (tenants, integrations): what the 100x set's buffer-pool
   * estimate extrapolates. Not the whole schema: a kept database (BENCH_KEEP_DB) also holds the
   * audit events and versions earlier runs' requests wrote, which the seed does not grow with.
   */
  async dbBytes(db: string): Promise<number> {
    await this.db.query(`ANALYZE TABLE \`${db}\`.tenants, \`${db}\`.integrations`);
    return this.scalar(
      "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables WHERE table_schema = ? AND table_name IN ('tenants', 'integrations')",
      [db],
    );
  }

  private async isComplete(db: string, tenants: number): Promise<boolean> {
    if ((await this.scalar('SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?', [db])) === 0) return false;
    try {
      const t = await this.scalar(`SELECT COUNT(*) FROM \`${db}\`.tenants`);
      const i = await this.scalar(`SELECT COUNT(*) FROM \`${db}\`.integrations`);
      return t === tenants && i === tenants * INTEGRATION_PLAN.length;
    } catch {
      return false;
    }
  }

  /**
   * A fresh database with the service's real schema (the service migrates it on
   * its first start) and `tenants` × 10 seeded integrations. With BENCH_KEEP_DB=1
   * a complete database from an earlier run is reused. `migrator` is the build
   * whose migrations make the schema.
   */
  async prepareDatabase(
    db: string,
    tenants: number,
    label: string,
    migrator: ServiceBuild = this.service,
  ): Promise<{ seedSeconds: number | null; bytes: number }> {
    if (this.config.keepDb && (await this.isComplete(db, tenants))) {
      log(`${label}: reusing the kept database ${db} (${fmt(tenants)} tenants)`);
      await this.stop(await this.start(migrator, db));
      return { seedSeconds: null, bytes: await this.dbBytes(db) };
    }
    await this.db.query(`DROP DATABASE IF EXISTS \`${db}\``);
    await this.db.query(`CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4`);
    log(`${label}: created ${db}; migrating it by starting ${migrator.name} once`);
    await this.stop(await this.start(migrator, db));
    log(`${label}: seeding ${fmt(tenants)} tenants x ${INTEGRATION_PLAN.length} integrations`);
    const pool = createPool({ uri: databaseUrl(this.config, db), connectionLimit: 4, charset: 'utf8mb4', timezone: 'Z' });
    try {
      const { seconds } = await seedDatabase(pool, { tenants, encryptionKeys: this.secrets.encryptionKeys, label, log });
      const bytes = await this.dbBytes(db);
      log(`${label}: seeded in ${seconds.toFixed(1)} s, ${mib(bytes)} in InnoDB`);
      return { seedSeconds: seconds, bytes };
    } finally {
      await pool.end();
    }
  }

  async dropDatabases(...dbs: string[]): Promise<void> {
    for (const db of dbs) await this.db.query(`DROP DATABASE IF EXISTS \`${db}\``).catch(() => undefined);
  }

  /**
   * Starts one side on database `db`. The service runs as `node dist/main.js`
   * (production mode, request log lines off, rate limit off), this checkout's
   * for 'service' or the given build's; the baseline as plain node. `nodeArgs`
   * go before the script (e.g. --cpu-prof). `env` is laid over the bench's
   * settings, before BENCH_SERVICE_ENV / BENCH_BASELINE_ENV (e.g. REDIS_URL, or
   * a DATABASE_URL naming another server of a cluster).
   */
  async start(side: Side | ServiceBuild, db: string, nodeArgs: string[] = [], env: Record<string, string> = {}): Promise<RunningServer> {
    const port = await freePort();
    const common = {
      PORT: String(port),
      DATABASE_URL: databaseUrl(this.config, db),
      JWT_SECRET: this.secrets.jwtSecret,
      ENCRYPTION_KEYS: this.secrets.encryptionKeys,
      NODE_ENV: 'production',
    };
    const build = side === 'service' ? this.service : side;
    const server =
      build !== 'baseline'
        ? await startServer({
            name: build.name,
            args: [...nodeArgs, join(build.dist, 'main.js')],
            env: {
              ...baseEnv(),
              ...common,
              HOST: '127.0.0.1',
              LOG_LEVEL: 'info',
              LOG_REQUESTS: 'false',
              RATE_LIMIT_MAX: '0',
              // One issuer for every process of the run (the default would follow PORT): scenario 7's tokens are
              // issued by one process and measured on the next.
              TOKEN_ISSUER: 'https://integrations-bench.example',
              DATA_DIR: this.dataDir,
              ...env,
              ...extraEnv('BENCH_SERVICE_ENV'),
            },
            port,
            readyPath: '/health/ready',
            cwd: this.dataDir,
            logFile: build.logFile,
          })
        : await startServer({
            name: 'baseline',
            args: [...nodeArgs, this.baselineScript],
            env: { ...baseEnv(), ...common, ...env, ...extraEnv('BENCH_BASELINE_ENV') },
            port,
            readyPath: '/health/ready',
            cwd: this.config.root,
            logFile: this.baselineLog,
          });
    this.running.add(server);
    return server;
  }

  async stop(server: RunningServer): Promise<void> {
    this.running.delete(server);
    await server.stop();
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running].map((s) => this.stop(s)));
  }

  async close(): Promise<void> {
    await this.stopAll();
    await this.admin?.end().catch(() => undefined);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/**
 * The pid file of the MariaDB server behind `connection`: with it, a bench
 * measures the right mariadbd when several run on the machine (a Galera
 * cluster beside the standalone server), and sees a node that restarted.
 */
export async function mariadbPidFile(connection: Connection): Promise<string | undefined> {
  try {
    const [rows] = await connection.query<RowDataPacket[]>('SELECT @@pid_file AS f');
    return rows[0]?.f == null ? undefined : String(rows[0].f);
  } catch {
    return undefined;
  }
}

/** The pid a pid file holds now, if that process runs; undefined otherwise. */
export function pidInFile(file: string | undefined): number | undefined {
  if (file === undefined) return undefined;
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && existsSync(`/proc/${pid}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The pid of the MariaDB server behind `connection` (mariadbPidFile), undefined when it cannot be read. */
export async function mariadbPidOf(connection: Connection): Promise<number | undefined> {
  return pidInFile(await mariadbPidFile(connection));
}

/** Extra `K=V K=V` settings for one side, e.g. BENCH_SERVICE_ENV="DATABASE_POOL_SIZE=40". */
function extraEnv(name: string): Record<string, string> {
  const extra: Record<string, string> = {};
  for (const pair of (process.env[name] ?? '').split(/\s+/).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq > 0) extra[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return extra;
}

/** Only what a server needs: nothing from the caller's shell leaks into its configuration. */
export function baseEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, LANG: process.env.LANG ?? 'C.UTF-8' };
}

/** The baseline is plain TypeScript: transpile it so it runs as plain `node`, without a ts-node hook in the measured process. */
function buildBaseline(config: BenchConfig): string {
  const out = join(config.resultsDir, '.baseline-build');
  mkdirSync(out, { recursive: true });
  const dir = join(config.root, 'bench', 'baseline');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const { outputText } = ts.transpileModule(readFileSync(join(dir, file), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      fileName: file,
    });
    writeFileSync(join(out, file.replace(/\.ts$/, '.js')), outputText);
  }
  return join(out, 'server.js');
}

/** The baseline's hand-written vendor table must say what the service's registry says. */
function checkBaselineVendors(): void {
  const problems: string[] = [];
  const mineTypes = BASELINE_VENDORS.map((v) => v.type);
  if (!isDeepStrictEqual([...VENDOR_TYPES].sort(), [...mineTypes].sort()))
    problems.push(`types: service ${VENDOR_TYPES.join(',')} vs baseline ${mineTypes.join(',')}`);
  for (const mine of BASELINE_VENDORS) {
    const theirs = findVendor(mine.type);
    if (theirs === undefined) continue;
    const a = theirs.fields.map((f) => ({ name: f.name, secret: f.secret, required: f.required, maxLength: f.maxLength }));
    const b = mine.fields.map((f) => ({ name: f.name, secret: f.secret, required: f.required, maxLength: f.maxLength }));
    if (!isDeepStrictEqual(a, b)) problems.push(`${mine.type} fields: service ${JSON.stringify(a)} vs baseline ${JSON.stringify(b)}`);
    if (!isDeepStrictEqual([...(theirs.serverAssignedFields ?? [])], [...mine.serverAssigned]))
      problems.push(`${mine.type}: server-assigned fields differ`);
  }
  if (problems.length > 0)
    throw new Error(`bench/baseline/vendors.ts no longer matches the service's vendor registry; update it:\n  ${problems.join('\n  ')}`);
}
