/**
 * Scenario 8 (issue 15): scheduled re-verification at scale, on MariaDB.
 * TENANTS × 10 integrations (10,000 by default) are stored through the API
 * with the fake vendors' good credentials, checks off; then every tenant's
 * verify-interval is set (PATCH /tenants/:iid), so every one of them is due
 * at once, on the same warm process. Measured in one run, side by side:
 *
 *   A. GET one integration (scenario 1's request) with the checks off (idle);
 *   B. the same GET load while the scheduler works through the backlog at
 *      its default pace (VERIFY_MAX_RATE), and the checks per second it
 *      makes (from the count of recorded results);
 *   C. the same again with the pace lifted (VERIFY_MAX_RATE=10000): what
 *      VERIFY_CONCURRENCY alone allows, and what it costs the API; it then
 *      drains the rest of the backlog;
 *   A'. the same GET load again once the backlog is done.
 *
 * The aim: GET p99 during B within 1.5× of the idle figure. Every check must
 * come back `ok` (the credentials are good), with one history row each.
 *
 *   npm run bench:checks      (CHECKS_TENANTS=1000, CHECKS_GET_SECONDS=10 by default)
 *
 * The fake vendors run in a child process of their own (test/fakes/run-fakes.ts),
 * so they do not share an event loop with the load generator.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from 'jsonwebtoken';
import { FAKE_GOOD_CREDENTIALS, FAKE_VENDORS } from '../test/fakes/fake-vendors';
import { runLoad, type LoadStats } from './load';
import { SERVER_V8_FLAGS } from './servers';

const TENANTS = Number(process.env.CHECKS_TENANTS ?? 1000);
const PER_TENANT = 10;
const GET_SECONDS = Number(process.env.CHECKS_GET_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.CHECKS_CONNECTIONS ?? 20);
/** B's pace: the service's default (VERIFY_MAX_RATE unset) unless CHECKS_MAX_RATE names another. */
const PACE = process.env.CHECKS_MAX_RATE;
const WARMUP_SECONDS = 5;
/** The whole backlog must be done within this, or the bench fails (bounded run). */
const BACKLOG_LIMIT_S = Number(process.env.CHECKS_LIMIT_SECONDS ?? 600);
const DB = 'integrations_checks_bench';
const ROOT = join(__dirname, '..');
const SECRET = 'checks-bench-secret-that-is-32-bytes!!!!';
const KEYS = `bench-key:${randomBytes(32).toString('base64')}`;
const PORT = 3950 + Math.floor(Math.random() * 40);
const FAKES_PORT = 4300 + Math.floor(Math.random() * 50) * 6;
const BASE = `http://127.0.0.1:${PORT}`;
const TOKEN = sign({ sub: 'checks-bench', scope: 'platform:admin' }, SECRET, {
  issuer: 'integrations-api',
  audience: 'integrations-api',
  expiresIn: '2h',
});
const TYPES = FAKE_VENDORS.map((vendor) => vendor.type);
const tenantOf = (t: number) => `chk-${String(t).padStart(5, '0')}`;
/** Ten integrations per tenant over the six vendors: twilio-0, sendgrid-1, … */
const integrationOf = (i: number) => ({ id: `${TYPES[i % TYPES.length]}-${i}`, type: TYPES[i % TYPES.length] });

const log = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const mariadb = (sql: string) => execFileSync('mariadb', ['-uroot', '-h127.0.0.1', '-N', '-e', sql]).toString().trim();
const count = (sql: string) => Number(mariadb(`USE ${DB}; ${sql}`));

function env(fakes: Record<string, string>, interval: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: `mysql://root@127.0.0.1:3306/${DB}`,
    JWT_SECRET: SECRET,
    ENCRYPTION_KEYS: KEYS,
    PORT: String(PORT),
    LOG_LEVEL: 'warn',
    LOG_REQUESTS: 'false',
    RATE_LIMIT_MAX: '0',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'checks-bench-')),
    VERIFY_INTERVAL: interval,
    VERIFY_TICK_MS: '200',
    ...fakes,
  };
}

async function startService(environment: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...SERVER_V8_FLAGS, join(ROOT, 'dist/main.js')], {
    env: environment,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 150; i++) {
    try {
      if ((await fetch(`${BASE}/health/ready`)).ok) return child;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error('the service did not become ready within 30 s');
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(timer);
}

/** The fake vendors in a child process; answers the VENDOR_*_URL settings it prints. */
async function startFakes(): Promise<{ child: ChildProcess; env: Record<string, string> }> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(ROOT, 'test/fakes/run-fakes.ts')], {
    env: { ...process.env, FAKES_BASE_PORT: String(FAKES_PORT) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const settings: Record<string, string> = {};
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the fake vendors did not start within 30 s')), 30_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (!out.includes('Ctrl-C to stop.')) return;
      clearTimeout(timer);
      for (const match of out.matchAll(/^export (\w+)=(\S+)$/gm)) settings[match[1]] = match[2];
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`the fake vendors stopped (exit ${code})`)));
  });
  return { child, env: settings };
}

async function api(method: string, path: string, body?: unknown): Promise<number> {
  const response = await fetch(BASE + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  await response.arrayBuffer();
  return response.status;
}

/** Runs `jobs` with `parallel` workers; throws on the first unexpected status. */
async function pool(jobs: (() => Promise<void>)[], parallel: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < jobs.length) await jobs[next++]();
    }),
  );
}

async function seed(): Promise<void> {
  const started = Date.now();
  await pool(
    Array.from({ length: TENANTS }, (_, t) => async () => {
      const status = await api('POST', '/tenants', { id: tenantOf(t), name: `Checks ${t}` });
      if (status !== 201) throw new Error(`creating tenant ${tenantOf(t)} answered ${status}`);
    }),
    10,
  );
  await pool(
    Array.from({ length: TENANTS * PER_TENANT }, (_, n) => async () => {
      const { id, type } = integrationOf(n % PER_TENANT);
      const status = await api('POST', `/tenants/${tenantOf(Math.floor(n / PER_TENANT))}/integrations/${id}`, {
        type,
        ...FAKE_GOOD_CREDENTIALS[type],
      });
      if (status !== 201) throw new Error(`creating ${id} answered ${status}`);
    }),
    20,
  );
  log(
    `stored ${TENANTS * PER_TENANT} integrations in ${TENANTS} tenants through the API in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

/** Scenario 1's request: one integration of a random tenant, secrets revealed. */
function getRequests(): Record<string, unknown>[] {
  return [
    {
      method: 'GET',
      setupRequest: (req: { path?: string; headers?: Record<string, string> }) => {
        req.path = `/tenants/${tenantOf(Math.floor(Math.random() * TENANTS))}/integrations/${integrationOf(Math.floor(Math.random() * PER_TENANT)).id}`;
        req.headers = { authorization: `Bearer ${TOKEN}` };
        return req;
      },
    },
  ];
}

const failedOf = (stats: LoadStats) => stats.errors + stats.timeouts + stats.non2xx;
const line = (label: string, stats: LoadStats) =>
  `${label.padEnd(34)} ${String(Math.round(stats.requestsPerSec)).padStart(6)} req/s   p50 ${String(stats.p50).padStart(4)} ms   ` +
  `p99 ${String(stats.p99).padStart(4)} ms   ${failedOf(stats)} failed`;

async function main(): Promise<number> {
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-if-needed.js')], { stdio: 'inherit' });
  mariadb(`DROP DATABASE IF EXISTS ${DB}; CREATE DATABASE ${DB} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  const fakes = await startFakes();
  let service: ChildProcess | undefined;
  try {
    // Checks off service-wide; B turns them on per tenant, so A and B run on one warm process.
    service = await startService({ ...env(fakes.env, '0'), ...(PACE === undefined ? {} : { VERIFY_MAX_RATE: PACE }) });
    await seed();
    const total = TENANTS * PER_TENANT;

    await runLoad(PORT, getRequests(), WARMUP_SECONDS, CONNECTIONS);
    log(`A. GET one, checks off, ${GET_SECONDS} s x ${CONNECTIONS} connections (after a ${WARMUP_SECONDS} s warm-up)`);
    const idle = await runLoad(PORT, getRequests(), GET_SECONDS, CONNECTIONS);

    log(`B. every tenant's verify-interval set to 24h (PATCH /tenants/:iid): ${total} integrations due at once`);
    await pool(
      Array.from({ length: TENANTS }, (_, t) => async () => {
        const status = await api('PATCH', `/tenants/${tenantOf(t)}`, { 'verify-interval': '24h' });
        if (status !== 200) throw new Error(`setting verify-interval of ${tenantOf(t)} answered ${status}`);
      }),
      10,
    );
    // With VERIFY_INTERVAL off the scheduler looks for tenants' own settings every few seconds: measure once it has begun.
    for (const waitStart = Date.now(); count('SELECT COUNT(*) FROM verification_results') === 0 && Date.now() - waitStart < 30_000;) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const pacedStart = Date.now();
    const pacedFrom = count('SELECT COUNT(*) FROM verification_results');
    const paced = await runLoad(PORT, getRequests(), GET_SECONDS, CONNECTIONS);
    const pacedChecks = count('SELECT COUNT(*) FROM verification_results') - pacedFrom;
    const pacedSeconds = (Date.now() - pacedStart) / 1000;
    await stop(service);

    log(`C. restarted unpaced (VERIFY_MAX_RATE=10000): the rest of the backlog, as fast as VERIFY_CONCURRENCY allows`);
    service = await startService({ ...env(fakes.env, '0'), VERIFY_MAX_RATE: '10000' });
    const started = Date.now();
    const before = count('SELECT COUNT(*) FROM verification_results');
    const unpaced = await runLoad(PORT, getRequests(), GET_SECONDS, CONNECTIONS);
    const unpacedChecks = count('SELECT COUNT(*) FROM verification_results') - before;
    let checked = before + unpacedChecks;
    // Where the time goes: statements per check while nothing else runs (the rest of the backlog, no GET load).
    const questions = () => Number(mariadb("SHOW GLOBAL STATUS LIKE 'Questions'").split(/\s+/)[1]);
    const drainFrom = { checked, questions: questions() };
    while (checked < total && Date.now() - started < BACKLOG_LIMIT_S * 1000) {
      await new Promise((r) => setTimeout(r, 1000));
      checked = count('SELECT COUNT(*) FROM verification_results');
    }
    const drainSeconds = (Date.now() - started) / 1000;
    const perCheck = (questions() - drainFrom.questions) / Math.max(1, checked - drainFrom.checked);
    log(`A'. GET one again, backlog done`);
    const after = await runLoad(PORT, getRequests(), GET_SECONDS, CONNECTIONS);

    const ok = count("SELECT COUNT(*) FROM integrations WHERE verify_status = 'ok'");
    const failed = count("SELECT COUNT(*) FROM integrations WHERE verify_status = 'failed'");
    const histories = count('SELECT COUNT(DISTINCT tenant_id, integration_id) FROM verification_results');
    const idleP99 = Math.max(1, Math.min(idle.p99, after.p99));
    process.stdout.write(
      [
        '',
        `Scheduled re-verification of ${total} integrations due at once (MariaDB, fake vendors on loopback, VERIFY_CONCURRENCY 4, 2 per host, 6 hosts)`,
        line('A.  GET one, idle', idle),
        line(`B.  GET one, checks at ${PACE === undefined ? 'the default pace' : `${PACE}/s`}`, paced),
        line('C.  GET one, checks unpaced', unpaced),
        line("A'. GET one, idle again", after),
        `GET p99 / idle p99: ${(paced.p99 / idleP99).toFixed(2)} at the default pace (aim <= 1.5), ${(unpaced.p99 / idleP99).toFixed(2)} unpaced`,
        `checks per second: ${(pacedChecks / pacedSeconds).toFixed(1)} at the default pace (VERIFY_MAX_RATE), ${(unpacedChecks / GET_SECONDS).toFixed(1)} unpaced under the GET load;`,
        `  the rest of the backlog (${total - before}) drained in ${drainSeconds.toFixed(1)} s = ${((checked - before) / drainSeconds).toFixed(1)} checks/s`,
        `  ${perCheck.toFixed(1)} SQL statements per check (MariaDB's Questions while only checks ran)`,
        `results: ${ok} ok, ${failed} failed, ${histories} integrations with history`,
        '',
      ].join('\n'),
    );
    const problems: string[] = [];
    if (checked < total) problems.push(`only ${checked} of ${total} checked within ${BACKLOG_LIMIT_S} s`);
    if (ok !== total) problems.push(`${ok} of ${total} ok (${failed} failed)`);
    if (failedOf(idle) + failedOf(paced) + failedOf(unpaced) + failedOf(after) > 0) problems.push('failed GET requests');
    for (const problem of problems) log(`FAILED: ${problem}`);
    return problems.length === 0 ? 0 : 1;
  } finally {
    if (service !== undefined) await stop(service);
    fakes.child.kill('SIGTERM');
    if (process.env.BENCH_KEEP_DB !== 'true') mariadb(`DROP DATABASE IF EXISTS ${DB}`);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:checks: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
