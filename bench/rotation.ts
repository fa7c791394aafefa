/**
 * Key rotation at scale, as an operator would run it, on MariaDB:
 * N tenants × M integrations through the API, then `keys:rotate` (re-wrap),
 * `keys:rotate --reencrypt`, and a re-encryption killed halfway and resumed —
 * each while clients keep reading and writing — then the old key is removed and
 * every secret must read back exactly. Prints the timings and the clients' tally.
 *
 *   npm run bench:rotation            (ROTATION_TENANTS=2000 ROTATION_PER_TENANT=5 by default)
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from 'jsonwebtoken';
import { SERVER_V8_FLAGS } from './servers';

const TENANTS = Number(process.env.ROTATION_TENANTS ?? 2000);
const PER_TENANT = Number(process.env.ROTATION_PER_TENANT ?? 5);
const DB = 'integrations_rotation_test';
const ROOT = join(__dirname, '..');
const SECRET = 'rotation-bench-secret-that-is-32-bytes!!';
const KEY_A = `old-key:${randomBytes(32).toString('base64')}`;
const KEY_B = `new-key:${randomBytes(32).toString('base64')}`;
const PORT = 3900 + Math.floor(Math.random() * 50);
const BASE = `http://127.0.0.1:${PORT}`;
const TOKEN = sign({ sub: 'rotation-bench', scope: 'platform:admin' }, SECRET, { issuer: 'integrations-api', audience: 'integrations-api', expiresIn: '2h' });
const env = (keys: string) => ({
  ...process.env,
  DATABASE_URL: `mysql://root@127.0.0.1:3306/${DB}`,
  JWT_SECRET: SECRET,
  ENCRYPTION_KEYS: keys,
  PORT: String(PORT),
  LOG_LEVEL: 'warn',
  LOG_REQUESTS: 'false',
  RATE_LIMIT_MAX: '0',
  DATA_DIR: mkdtempSync(join(tmpdir(), 'rotation-')),
});

const mariadb = (sql: string) => execFileSync('mariadb', ['-uroot', '-h127.0.0.1', '-N', '-e', sql]).toString();

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(BASE + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined };
}

async function startService(keys: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...SERVER_V8_FLAGS, join(ROOT, 'dist/main.js')], { env: env(keys), stdio: ['ignore', 'inherit', 'inherit'] });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${BASE}/health/ready`)).ok) return child;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('service did not become ready');
}

async function stopService(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function pool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

/** Runs an operator command without blocking this process, so the clients keep going meanwhile. */
async function cli(args: string[], keys: string): Promise<{ stdout: string; seconds: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, [join(ROOT, 'dist/cli.js'), ...args], { env: env(keys), stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}:\n${stdout}`);
  return { stdout, seconds: (Date.now() - started) / 1000 };
}

/** Clients looping over the data for as long as `running()`: reads check values, writes change passwords. */
function load(expected: Map<string, Record<string, string>>, running: () => boolean) {
  const tally = { reads: 0, writes: 0, errors: 0, wrong: 0 };
  const keys = [...expected.keys()];
  const workers = Array.from({ length: 8 }, async (_x, w) => {
    const mine = keys.filter((_k, i) => i % 8 === w);
    for (let n = 0; running(); n++) {
      const key = mine[Math.floor(Math.random() * mine.length)];
      const [tenant, id] = key.split('/');
      try {
        if (n % 4 === 0) {
          const body = { ...expected.get(key)!, password: randomBytes(6).toString('hex') };
          const r = await api('POST', `/tenants/${tenant}/integrations/${id}`, body);
          if (r.status === 200) expected.set(key, body);
          else tally.errors++;
          tally.writes++;
        } else {
          const r = await api('GET', `/tenants/${tenant}/integrations/${id}`);
          if (r.status !== 200) tally.errors++;
          else if (JSON.stringify(r.json) !== JSON.stringify({ id, ...expected.get(key) })) tally.wrong++;
          tally.reads++;
        }
      } catch {
        tally.errors++;
      }
    }
  });
  return { tally, done: Promise.all(workers) };
}

async function main(): Promise<void> {
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-if-needed.js')], { stdio: 'inherit' });
  mariadb(`DROP DATABASE IF EXISTS ${DB}; CREATE DATABASE ${DB} CHARACTER SET utf8mb4`);
  const expected = new Map<string, Record<string, string>>();
  try {
    let service = await startService(KEY_A);
    const started = Date.now();
    const tenants = Array.from({ length: TENANTS }, (_x, i) => `rot-${String(i).padStart(6, '0')}`);
    await pool(tenants, 16, async (tenant) => {
      await api('POST', '/tenants', { id: tenant, name: tenant });
      for (let j = 0; j < PER_TENANT; j++) {
        const body = { type: 'twilio', account: `AC${j}`, password: randomBytes(8).toString('hex') };
        const r = await api('POST', `/tenants/${tenant}/integrations/twilio-${j}`, body);
        if (r.status !== 201) throw new Error(`seed failed: ${r.status}`);
        expected.set(`${tenant}/twilio-${j}`, body);
      }
    });
    console.log(`seeded ${TENANTS} tenants × ${PER_TENANT} integrations through the API in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await stopService(service);

    service = await startService(`${KEY_B},${KEY_A}`);
    let running = true;
    const traffic = load(expected, () => running);
    const rewrap = await cli(['keys:rotate'], `${KEY_B},${KEY_A}`);
    console.log(rewrap.stdout.trim());
    console.log((await cli(['keys:status'], `${KEY_B},${KEY_A}`)).stdout.trim());

    const before = new Set(mariadb(`SELECT secrets FROM ${DB}.integrations`).split('\n'));
    const reencrypt = await cli(['keys:rotate', '--reencrypt'], `${KEY_B},${KEY_A}`);
    console.log(reencrypt.stdout.trim());
    const after = mariadb(`SELECT secrets FROM ${DB}.integrations`).split('\n').filter(Boolean);
    const unchanged = after.filter((row) => before.has(row)).length;

    // Kill a re-encryption halfway (SIGKILL, no cleanup), then run it again.
    const victim = spawn(process.execPath, [join(ROOT, 'dist/cli.js'), 'keys:rotate', '--reencrypt'], { env: env(`${KEY_B},${KEY_A}`), stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, Math.max(500, (reencrypt.seconds * 1000) / 2)));
    victim.kill('SIGKILL');
    const versions = mariadb(`SELECT data_key_version, COUNT(*) FROM ${DB}.tenants GROUP BY data_key_version`).trim();
    const resumed = await cli(['keys:rotate', '--reencrypt'], `${KEY_B},${KEY_A}`);
    console.log(`after the kill, tenants per data-key version: ${versions.replace(/\n/g, '; ')}`);
    console.log(resumed.stdout.trim());

    running = false;
    await traffic.done;
    await stopService(service);

    service = await startService(KEY_B);
    let mismatches = 0;
    await pool([...expected], 16, async ([key, body]) => {
      const [tenant, id] = key.split('/');
      const r = await api('GET', `/tenants/${tenant}/integrations/${id}`);
      if (r.status !== 200 || JSON.stringify(r.json) !== JSON.stringify({ id, ...body })) mismatches++;
    });
    await stopService(service);

    const perTenK = (s: number) => ((s / TENANTS) * 10_000).toFixed(1);
    console.log('\nsummary');
    console.log(`  re-wrap:     ${rewrap.seconds.toFixed(1)} s for ${TENANTS} tenants (${(TENANTS / rewrap.seconds).toFixed(0)} tenants/s, ${perTenK(rewrap.seconds)} s per 10,000 tenants, CLI start included)`);
    console.log(`  re-encrypt:  ${reencrypt.seconds.toFixed(1)} s for ${TENANTS} tenants / ${expected.size} integrations (${(expected.size / reencrypt.seconds).toFixed(0)} integrations/s, ${perTenK(reencrypt.seconds)} s per 10,000 tenants)`);
    console.log(`  ciphertexts unchanged by --reencrypt: ${unchanged} of ${after.length}`);
    console.log(`  clients during the three rotations: ${traffic.tally.reads} reads, ${traffic.tally.writes} writes, ${traffic.tally.errors} errors, ${traffic.tally.wrong} wrong values`);
    console.log(`  old key removed, every secret read back: ${expected.size - mismatches}/${expected.size} exact`);
    if (traffic.tally.errors || traffic.tally.wrong || mismatches || unchanged) process.exitCode = 1;
  } finally {
    mariadb(`DROP DATABASE IF EXISTS ${DB}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
