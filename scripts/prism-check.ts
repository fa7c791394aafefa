/**
 * `npm run -s prism:check`: the check issue 17's author made, made repeatable.
 * Stoplight Prism's validating proxy (`prism proxy`) is put in front of the
 * built service, and the seed contract plus every route of the service is
 * driven through it, success and error answers alike. Every violation Prism
 * reports (its `sl-violations` header: request and response) is collected;
 * the run prints a summary and exits 1 on any disagreement.
 *
 * Prism is not a dependency of the repository. Install it anywhere and say where:
 *
 *   mkdir -p /tmp/prism && (cd /tmp/prism && npm init -y && npm i @stoplight/prism-cli)
 *   PRISM_BIN=/tmp/prism/node_modules/.bin/prism npm run -s prism:check
 *
 * (or have `prism` where `npx --no-install prism` finds it).
 *
 * What runs, all on 127.0.0.1 and ports the system picks, in a temporary directory:
 * - the service (`dist/main.js`, built if needed) on SQLite, with its own keys, the vendors
 *   pointed at the fake vendors of test/fakes and webhooks allowed to a local receiver;
 * - two proxies over the same document: a strict one (`--errors`, a violation fails the
 *   exchange) for requests the document accepts, and a reporting one (no `--errors`) for
 *   the requests that are invalid on purpose (no token, a refused body, a bad query), which
 *   a strict Prism answers itself instead of forwarding. For those, Prism must report the
 *   request violation (the document refuses what the service refuses), and the service's
 *   answer must still agree with the document.
 * - a second run of the service on the same database with a low rate limit, REQUIRE_IF_MATCH,
 *   VERIFY_ON_SAVE and one allowed failed client authentication, for the 422, 428 and 429 answers.
 * It also fails when an operation of the document was reached by no exchange, so a new route
 * has to be driven here too.
 *
 * Prism's router matches a request path against the document's paths only, never a server
 * URL's path, so a request to `/1.0/tenants` (the document's second server) is "route not
 * found" to it. The proxies are given the document with each path also listed under `/1.0`,
 * which is what the `servers` entry means; the committed document is unchanged. And Prism's
 * HTTP server parses a JSON request body itself: a malformed one gets Prism's own 400, never
 * forwarded, so the service's answer to it is checked by the e2e suites only (NOT_THROUGH_PRISM).
 */
import 'reflect-metadata';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken } from '../src/auth/token-minter';
import { loadConfiguration } from '../src/config/configuration';
import { startFakeVendors, type FakeVendors } from '../test/fakes/fake-vendors';
import { WebhookReceiver } from '../test/helpers/webhook-receiver';
import { SEED_EXAMPLES } from '../test/helpers/seed-examples';

const ROOT = join(__dirname, '..');
/** The whole run's deadline: whatever hangs, the script ends. */
const RUN_DEADLINE_MS = Number(process.env.PRISM_CHECK_DEADLINE_MS ?? 300_000);
/** One exchange's deadline. */
const EXCHANGE_TIMEOUT_MS = 15_000;
/** How long a process may take to listen. */
const START_TIMEOUT_MS = 60_000;

const INSTALL_HINT = [
  'Stoplight Prism is not installed (it is not a dependency of this repository). Install it outside the repository:',
  '',
  '  mkdir -p /tmp/prism && (cd /tmp/prism && npm init -y && npm i @stoplight/prism-cli)',
  '',
  'then run the check with PRISM_BIN pointing at it:',
  '',
  '  PRISM_BIN=/tmp/prism/node_modules/.bin/prism npm run -s prism:check',
].join('\n');

type Json = Record<string, unknown>;

interface Violation {
  location?: string[];
  severity?: string;
  code?: string | number;
  message?: string;
}

interface Outcome {
  label: string;
  method: string;
  /** The path without its query. */
  path: string;
  status: number;
  expected: number;
  /** Violations that count: any on an exchange the document accepts, response ones on the others. */
  violations: Violation[];
  /** Request violations on a request sent invalid on purpose (expected ones). */
  expectedRequestViolations: Violation[];
  /** A request refused for its shape that Prism did not report as invalid. */
  missingRequestViolation: boolean;
}

interface Exchange {
  method: string;
  path: string;
  /** Bearer token; leave out for none. */
  token?: string;
  headers?: Record<string, string>;
  /** A JSON body (sent compact: Prism re-serializes what it parsed, and forwards the original Content-Length). */
  json?: unknown;
  /** A raw body (give its Content-Type in headers). */
  body?: string;
  expect: number;
  /**
   * The request is invalid by the document on purpose (no token, a refused body, a bad query):
   * it goes through the reporting proxy, and Prism must report a request violation for it.
   */
  invalid?: boolean;
  /** A short description for the summary (defaults to method and path). */
  note?: string;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

const children: ChildProcess[] = [];
/** Set while this script stops a process itself, so its exit is not reported as a crash. */
let stopping = false;
const outcomes: Outcome[] = [];
const problems: string[] = [];

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Stops every process this script started: each was started in its own process group, killed by its id. */
function stopChildren(): void {
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    }
  }
}
process.on('exit', stopChildren);
/** The run's temporary directory (removed when the run passes or is interrupted; kept, with the logs, when it fails). */
let workDir: string | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stopChildren();
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
    process.exit(130);
  });
}

/** The prism command: PRISM_BIN, or whatever `npx --no-install prism` finds. Undefined when neither works. */
function findPrism(): string[] | undefined {
  const bin = process.env.PRISM_BIN;
  const candidates: string[][] = bin ? [[bin]] : [['npx', '--no-install', 'prism']];
  for (const command of candidates) {
    const probe = spawnSync(command[0], [...command.slice(1), '--version'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    if (probe.status === 0 && /^\d+\.\d+/.test(probe.stdout.trim())) return command;
    if (bin) log(`PRISM_BIN=${bin} does not run (${probe.error?.message ?? probe.stderr.trim().split('\n')[0] ?? `exit ${probe.status}`})`);
  }
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts a process in its own group (so it and its children can be stopped together), its output to a log file. */
function start(name: string, command: string[], env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  const out = openSync(logFile, 'a');
  const child = spawn(command[0], command.slice(1), { cwd: ROOT, env, detached: true, stdio: ['ignore', out, out] });
  closeSync(out); // the child has its own copy
  children.push(child);
  child.once('exit', (code, signal) => {
    if (!stopping) log(`${name} exited (${signal ?? code}); its log: ${logFile}`);
  });
  return child;
}

async function waitForHttp(url: string, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited before listening`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      return;
    } catch {
      await sleep(250);
    }
  }
  throw new Error(`${what} did not answer ${url} within ${START_TIMEOUT_MS / 1000} s`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(-child.pid, 'SIGTERM');
  const deadline = sleep(15_000).then(() => 'timeout' as const);
  if ((await Promise.race([exited.then(() => 'exited' as const), deadline])) === 'timeout') process.kill(-child.pid, 'SIGKILL');
}

/** The document as the proxies get it: every path also under the `/1.0` server (Prism's router ignores a server's path). */
function documentForPrism(dir: string): string {
  const document = JSON.parse(readFileSync(join(ROOT, 'openapi.json'), 'utf8')) as Json;
  const servers = (document.servers ?? []) as { url: string }[];
  const paths: Json = {};
  for (const [path, item] of Object.entries(document.paths as Json)) {
    for (const server of servers) {
      const base = server.url.replace(/\/+$/, '');
      paths[`${base}${path}`] = item;
    }
  }
  document.paths = paths;
  delete document.servers;
  const file = join(dir, 'openapi.prism.json');
  writeFileSync(file, JSON.stringify(document));
  return file;
}

class Driver {
  constructor(
    private readonly strictUrl: string,
    private readonly reportingUrl: string,
  ) {}

  async send(exchange: Exchange): Promise<Answer> {
    const base = exchange.invalid ? this.reportingUrl : this.strictUrl;
    const headers: Record<string, string> = { ...exchange.headers };
    if (exchange.token !== undefined) headers.authorization = `Bearer ${exchange.token}`;
    let body: string | undefined = exchange.body;
    if (exchange.json !== undefined) {
      body = JSON.stringify(exchange.json);
      headers['content-type'] ??= 'application/json';
    }
    const label = exchange.note ? `${exchange.method} ${exchange.path} (${exchange.note})` : `${exchange.method} ${exchange.path}`;
    let response: Response;
    try {
      response = await fetch(`${base}${exchange.path}`, {
        method: exchange.method,
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(EXCHANGE_TIMEOUT_MS),
      });
    } catch (error) {
      problems.push(`${label}: no answer (${error instanceof Error ? error.message : String(error)})`);
      return { status: 0, headers: new Headers(), text: '', json: undefined };
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    const reported = parseViolations(response.headers.get('sl-violations'));
    const isRequest = (v: Violation): boolean => v.location?.[0] === 'request';
    const outcome: Outcome = {
      label,
      method: exchange.method,
      path: exchange.path.split('?')[0],
      status: response.status,
      expected: exchange.expect,
      violations: exchange.invalid ? reported.filter((v) => !isRequest(v)) : reported,
      expectedRequestViolations: exchange.invalid ? reported.filter(isRequest) : [],
      missingRequestViolation: exchange.invalid === true && !reported.some(isRequest),
    };
    outcomes.push(outcome);
    if (response.status !== exchange.expect) {
      problems.push(`${label}: answered ${response.status}, expected ${exchange.expect}: ${text.slice(0, 300)}`);
    }
    return { status: response.status, headers: response.headers, text, json };
  }
}

function parseViolations(header: string | null): Violation[] {
  if (header === null || header === '') return [];
  try {
    const parsed = JSON.parse(header) as unknown;
    return Array.isArray(parsed) ? (parsed as Violation[]) : [{ message: header }];
  } catch {
    // "Too many violations! …" (Prism truncates a long header).
    return [{ location: ['response'], message: header.slice(0, 500) }];
  }
}

function field(answer: Answer, name: string): string {
  const value = (answer.json as Json | undefined)?.[name];
  if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`the answer has no '${name}': ${answer.text.slice(0, 300)}`);
  return String(value);
}

async function main(): Promise<void> {
  const prism = findPrism();
  if (prism === undefined) {
    process.stderr.write(`${INSTALL_HINT}\n`);
    process.exit(2);
  }
  const timer = setTimeout(() => {
    log(`prism-check: the run took longer than ${RUN_DEADLINE_MS / 1000} s; stopping`);
    stopChildren();
    process.exit(3);
  }, RUN_DEADLINE_MS);
  timer.unref();

  const build = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-if-needed.js')], {
    cwd: ROOT,
    stdio: 'inherit',
    timeout: 300_000,
  });
  if (build.status !== 0) throw new Error('the build failed');

  const dir = mkdtempSync(join(tmpdir(), 'prism-check-'));
  workDir = dir;
  const [apiPort, strictPort, reportingPort] = [await freePort(), await freePort(), await freePort()];
  const fakes: FakeVendors = await startFakeVendors({ host: '127.0.0.1', basePort: 0 });
  const receiver = await new WebhookReceiver().start();
  const api = `http://127.0.0.1:${apiPort}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(apiPort),
    DATA_DIR: dir,
    DATABASE_URL: `sqlite:${join(dir, 'integrations.sqlite')}`,
    JWT_SECRET: randomBytes(32).toString('base64url'),
    ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    TOKEN_ISSUER: api,
    LOG_LEVEL: 'warn',
    LOG_REQUESTS: 'false',
    WEBHOOK_ALLOW_PRIVATE: 'true',
    WEBHOOK_TICK_MS: '200',
    WEBHOOK_RETRY_BASE_MS: '60000',
    VERIFY_INTERVAL: '0',
    VERIFY_TIMEOUT_MS: '3000',
    ...fakes.env,
  };
  const config = loadConfiguration(env);
  const mint = (scopes: string, tenants?: string[], subject = 'prism-check'): string =>
    mintToken(config.auth, { subject, scopes: scopes.split(' '), tenants, ttlSeconds: 3600 });

  const serviceCommand = [process.execPath, '--no-allocation-site-pretenuring', '--heap-growing-percent=50', join(ROOT, 'dist', 'main.js')];
  let service = start('the service', serviceCommand, env, join(dir, 'service.log'));
  await waitForHttp(`${api}/health/live`, service, 'the service');

  const documentFile = documentForPrism(dir);
  const prismArgs = (port: number, strict: boolean): string[] => [
    ...prism,
    'proxy',
    documentFile,
    api,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    ...(strict ? ['--errors'] : []),
  ];
  const prismEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
  const strict = start('prism (--errors)', prismArgs(strictPort, true), prismEnv, join(dir, 'prism-strict.log'));
  const reporting = start('prism (reporting)', prismArgs(reportingPort, false), prismEnv, join(dir, 'prism-reporting.log'));
  await waitForHttp(`http://127.0.0.1:${strictPort}/health/live`, strict, 'prism (--errors)');
  await waitForHttp(`http://127.0.0.1:${reportingPort}/health/live`, reporting, 'prism (reporting)');
  outcomes.length = 0; // the start-up probes are not exchanges

  const x = new Driver(`http://127.0.0.1:${strictPort}`, `http://127.0.0.1:${reportingPort}`);
  try {
    await driveEverything(x, mint, receiver);

    // Second run, same database: REQUIRE_IF_MATCH, a low rate limit, one failed client authentication allowed.
    stopping = true;
    await stopChild(service);
    stopping = false;
    service = start(
      'the service (limits)',
      serviceCommand,
      {
        ...env,
        RATE_LIMIT_MAX: '4',
        RATE_LIMIT_WINDOW_MS: '60000',
        REQUIRE_IF_MATCH: 'true',
        TOKEN_MAX_FAILURES_PER_CLIENT: '1',
        VERIFY_ON_SAVE: 'true',
      },
      join(dir, 'service-limits.log'),
    );
    await waitForHttp(`${api}/health/live`, service, 'the service (limits)');
    await driveLimits(x, mint);
  } finally {
    stopping = true;
    stopChildren();
    await fakes.close();
    await receiver.stop();
  }

  report(dir);
  if (process.exitCode === 0 || process.exitCode === undefined) rmSync(dir, { recursive: true, force: true });
}

type Mint = (scopes: string, tenants?: string[], subject?: string) => string;

const SEED: Record<string, Json> = SEED_EXAMPLES;
const SEED_CONTENT_TYPE = { 'content-type': 'application/json; charset=utf-8' };

async function driveEverything(x: Driver, mint: Mint, receiver: WebhookReceiver): Promise<void> {
  const admin = mint('platform:admin', undefined, 'admin@prism-check');
  const t = 'tenant1';
  const other = 'tenant2';
  const reader = mint('integrations:read', [t], 'reader');
  const revealer = mint('integrations:read integrations:secrets', [t], 'revealer');
  const writer = mint('integrations:read integrations:write', [t], 'writer');
  const otherTenant = mint('integrations:read integrations:write', [other], 'other');
  const auditor = mint('audit:read', [t], 'auditor');
  const hooks = mint('webhooks:write', [t], 'hooks');
  const I = `/tenants/${t}/integrations`;

  // --- health, metadata, types
  await x.send({ method: 'GET', path: '/health/live', expect: 200 });
  await x.send({ method: 'GET', path: '/health/ready', expect: 200 });
  await x.send({ method: 'GET', path: '/.well-known/jwks.json', expect: 200 });
  await x.send({ method: 'GET', path: '/.well-known/oauth-authorization-server', expect: 200 });
  await x.send({ method: 'GET', path: '/integration-types', token: reader, expect: 200 });
  await x.send({ method: 'GET', path: '/integration-types', expect: 401, invalid: true, note: 'no token' });
  await x.send({ method: 'GET', path: '/integration-types', token: 'not.a.jwt', expect: 401, note: 'bad token' });

  // --- tenants
  await x.send({ method: 'POST', path: '/tenants', token: admin, json: { id: t, name: 'Tenant One' }, expect: 201 });
  await x.send({ method: 'POST', path: '/tenants', token: admin, json: { id: other, name: 'Tenant Two' }, expect: 201 });
  await x.send({ method: 'POST', path: '/tenants', token: admin, json: { id: t, name: 'Again' }, expect: 409 });
  await x.send({ method: 'POST', path: '/tenants', token: reader, json: { id: 'tenant3', name: 'T3' }, expect: 403, note: 'not admin' });
  await x.send({
    method: 'POST',
    path: '/tenants',
    token: admin,
    json: { id: 'x', name: 'X', extra: 1 },
    expect: 400,
    invalid: true,
    note: 'unknown field',
  });
  await x.send({ method: 'POST', path: '/tenants', token: admin, json: { id: 'x' }, expect: 400, invalid: true, note: 'no name' });
  await x.send({
    method: 'POST',
    path: '/tenants',
    token: admin,
    body: 'id=x',
    headers: { 'content-type': 'text/plain' },
    expect: 415,
    invalid: true,
  });
  await x.send({
    method: 'POST',
    path: '/tenants',
    token: admin,
    json: { id: 'big', name: 'n'.repeat(70_000) },
    expect: 413,
    invalid: true,
    note: 'body over BODY_LIMIT',
  });
  await x.send({ method: 'GET', path: '/tenants', token: admin, expect: 200 });
  await x.send({ method: 'GET', path: '/tenants?limit=2&offset=0', token: admin, expect: 200 });
  await x.send({ method: 'GET', path: '/tenants?limit=5000', token: admin, expect: 400, invalid: true, note: 'limit over 1000' });
  await x.send({ method: 'GET', path: '/tenants', token: reader, expect: 200, note: 'a tenant token' });
  await x.send({ method: 'GET', path: `/tenants/${t}`, token: admin, expect: 200 });
  await x.send({ method: 'GET', path: `/tenants/${other}`, token: reader, expect: 403, note: 'another tenant' });
  await x.send({ method: 'GET', path: '/tenants/nobody', token: admin, expect: 404 });
  await x.send({ method: 'GET', path: '/tenants/bad%20id!', token: admin, expect: 400, invalid: true, note: 'malformed id' });
  await x.send({ method: 'PATCH', path: `/tenants/${t}`, token: admin, json: { name: 'Tenant One Ltd' }, expect: 200 });
  await x.send({ method: 'PATCH', path: `/tenants/${t}`, token: admin, json: { 'verify-interval': '6h' }, expect: 200 });
  await x.send({ method: 'PATCH', path: `/tenants/${t}`, token: admin, json: { 'verify-interval': null }, expect: 200 });
  await x.send({
    method: 'PATCH',
    path: `/tenants/${t}`,
    token: admin,
    json: { name: '' },
    expect: 400,
    invalid: true,
    note: 'empty name',
  });
  await x.send({
    method: 'PATCH',
    path: `/tenants/${t}`,
    token: admin,
    json: { name: null },
    expect: 400,
    invalid: true,
    note: 'null name',
  });
  await x.send({ method: 'PATCH', path: '/tenants/nobody', token: admin, json: { name: 'N' }, expect: 404 });

  // --- the seed contract: the original page's four examples, verbatim (Twilio, SendGrid, DataSift without type)
  for (const [id, body] of Object.entries(SEED)) {
    await x.send({
      method: 'POST',
      path: `${I}/${id}`,
      token: admin,
      headers: SEED_CONTENT_TYPE,
      json: body,
      expect: 201,
      note: 'seed example',
    });
  }
  await x.send({ method: 'GET', path: I, token: reader, expect: 200, note: 'masked' });
  await x.send({ method: 'GET', path: I, token: revealer, expect: 200, note: 'revealed' });
  await x.send({ method: 'GET', path: `${I}?limit=2&offset=1`, token: reader, expect: 200 });
  const masked = await x.send({ method: 'GET', path: `${I}/twilio`, token: reader, expect: 200, note: 'masked' });
  await x.send({ method: 'GET', path: `${I}/twilio`, token: revealer, expect: 200, note: 'revealed' });
  await x.send({ method: 'PATCH', path: `${I}/twilio`, token: writer, json: { account: 'AC123' }, expect: 200, note: 'one field' });
  await x.send({ method: 'PATCH', path: `${I}/salesforce`, token: admin, json: { instance: null }, expect: 200, note: 'null clears' });
  await x.send({
    method: 'POST',
    path: `${I}/twilio`,
    token: writer,
    json: { id: 'twilio', type: 'twilio', account: 'AC999', password: '********' },
    expect: 200,
    note: 'replace, mask keeps the secret',
  });
  await x.send({
    method: 'POST',
    path: I,
    token: admin,
    json: { id: 'pusher', key: 'k', secret: 's' },
    expect: 201,
    note: 'collection form',
  });
  await x.send({
    method: 'POST',
    path: I,
    token: admin,
    json: { id: 'urban-airship', type: 'urban-airship', username: 'app', password: 'master' },
    expect: 201,
    note: 'collection form',
  });
  await x.send({ method: 'POST', path: `${I}/sendgrid?dry-run=true`, token: admin, json: SEED.sendgrid, expect: 200, note: 'dry run' });
  await x.send({ method: 'DELETE', path: `${I}/pusher`, token: admin, expect: 204 });

  // integrations: errors
  await x.send({ method: 'GET', path: `${I}/nothing`, token: reader, expect: 404 });
  await x.send({ method: 'GET', path: '/tenants/nobody/integrations', token: admin, expect: 404 });
  await x.send({ method: 'GET', path: I, token: otherTenant, expect: 403, note: 'another tenant' });
  await x.send({ method: 'POST', path: `${I}/twilio`, token: reader, json: SEED.twilio, expect: 403, note: 'read-only token' });
  await x.send({ method: 'GET', path: I, expect: 401, invalid: true, note: 'no token' });
  await x.send({ method: 'GET', path: I, token: 'eyJhbGciOiJIUzI1NiJ9.e30.x', expect: 401, note: 'bad signature' });
  await x.send({
    method: 'POST',
    path: `${I}/twilio`,
    token: admin,
    json: { ...SEED.twilio, color: 'red' },
    expect: 400,
    invalid: true,
    note: 'unknown field',
  });
  await x.send({
    method: 'POST',
    path: `${I}/twilio`,
    token: admin,
    json: { account: 'SID' },
    expect: 400,
    invalid: true,
    note: 'missing field',
  });
  await x.send({
    method: 'POST',
    path: `${I}/twilio`,
    token: admin,
    json: { account: 42, password: 'T' },
    expect: 400,
    invalid: true,
    note: 'wrong type',
  });
  await x.send({
    method: 'POST',
    path: `${I}/fax`,
    token: admin,
    json: { type: 'fax', account: 'SID' },
    expect: 400,
    invalid: true,
    note: 'unknown type',
  });
  await x.send({
    method: 'POST',
    path: `${I}/twilio`,
    token: admin,
    json: { ...SEED.twilio, id: 'sendgrid' },
    expect: 400,
    note: 'id mismatch',
  });
  await x.send({
    method: 'POST',
    path: I,
    token: admin,
    json: { type: 'twilio', account: 'SID', password: 'T' },
    expect: 400,
    invalid: true,
    note: 'no id',
  });
  await x.send({
    method: 'PATCH',
    path: `${I}/salesforce`,
    token: admin,
    json: { colour: 'red' },
    expect: 400,
    invalid: true,
    note: 'unknown field',
  });
  await x.send({
    method: 'PATCH',
    path: `${I}/salesforce`,
    token: admin,
    json: { password: null },
    expect: 400,
    invalid: true,
    note: 'null secret',
  });
  await x.send({ method: 'PATCH', path: `${I}/nothing`, token: admin, json: { account: 'A' }, expect: 404 });
  await x.send({ method: 'GET', path: `${I}?limit=0`, token: reader, expect: 400, invalid: true, note: 'limit 0' });
  await x.send({
    method: 'POST',
    path: `${I}/twilio`,
    token: admin,
    body: 'account=SID',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    expect: 415,
    invalid: true,
  });
  await x.send({
    method: 'POST',
    path: `${I}/twilio`,
    token: admin,
    json: { id: 'twilio', account: 'A', password: 'p'.repeat(70_000) },
    expect: 413,
    invalid: true,
    note: 'body over BODY_LIMIT',
  });
  const etag = masked.headers.get('etag') ?? '"0"';
  await x.send({
    method: 'PATCH',
    path: `${I}/twilio`,
    token: admin,
    headers: { 'if-match': '"999"' },
    json: { account: 'A' },
    expect: 412,
    note: 'stale If-Match',
  });
  await x.send({
    method: 'DELETE',
    path: `${I}/twilio`,
    token: admin,
    headers: { 'if-match': etag },
    expect: 412,
    note: 'stale If-Match (an older ETag)',
  });
  const current = await x.send({ method: 'GET', path: `${I}/twilio`, token: admin, expect: 200 });
  await x.send({
    method: 'PATCH',
    path: `${I}/twilio`,
    token: admin,
    headers: { 'if-match': current.headers.get('etag') ?? '' },
    json: { account: 'AC777' },
    expect: 200,
    note: 'matching If-Match',
  });

  // --- history
  await x.send({ method: 'GET', path: `${I}/twilio/versions`, token: reader, expect: 200 });
  await x.send({ method: 'GET', path: `${I}/twilio/versions/1`, token: reader, expect: 200, note: 'masked' });
  await x.send({ method: 'GET', path: `${I}/twilio/versions/1`, token: revealer, expect: 200, note: 'revealed' });
  await x.send({ method: 'GET', path: `${I}/twilio/versions/99`, token: reader, expect: 404 });
  await x.send({ method: 'GET', path: `${I}/twilio/versions/abc`, token: reader, expect: 400, invalid: true, note: 'not a number' });
  await x.send({ method: 'POST', path: `${I}/twilio/versions/1/restore`, token: admin, expect: 200, note: 'restore over the current' });
  await x.send({ method: 'GET', path: `${I}/pusher/versions`, token: reader, expect: 200, note: 'deleted integration' });
  await x.send({ method: 'POST', path: `${I}/pusher/versions/1/restore`, token: writer, expect: 201, note: 'restore a deleted one' });
  await x.send({ method: 'POST', path: `${I}/twilio/versions/99/restore`, token: admin, expect: 404 });
  await x.send({ method: 'GET', path: `${I}/nothing/versions`, token: reader, expect: 404 });

  // --- verification (the fake vendors of test/fakes answer)
  await x.send({ method: 'POST', path: `${I}/twilio/verify`, token: writer, expect: 200, note: 'vendor refuses' });
  await x.send({ method: 'GET', path: `${I}/twilio/verification`, token: reader, expect: 200 });
  await x.send({ method: 'GET', path: `${I}/twilio/verification/history`, token: reader, expect: 200 });
  await x.send({ method: 'GET', path: `${I}/datasift/verification`, token: reader, expect: 404, note: 'never checked' });
  await x.send({ method: 'POST', path: `${I}/nothing/verify`, token: writer, expect: 404 });
  await x.send({ method: 'POST', path: `${I}/twilio/verify`, token: reader, expect: 403, note: 'read-only token' });

  // --- API clients and the token endpoint
  const C = `/tenants/${t}/api-clients`;
  const created = await x.send({
    method: 'POST',
    path: C,
    token: admin,
    json: { name: 'Billing sync', scope: 'integrations:read integrations:secrets' },
    expect: 201,
  });
  const clientId = field(created, 'client-id');
  let clientSecret = field(created, 'client-secret');
  await x.send({
    method: 'POST',
    path: C,
    token: admin,
    json: { name: 'x', scope: 'platform:admin' },
    expect: 400,
    invalid: true,
    note: 'scope not grantable',
  });
  await x.send({
    method: 'POST',
    path: C,
    token: reader,
    json: { name: 'x', scope: 'integrations:read' },
    expect: 403,
    note: 'no clients:write',
  });
  await x.send({ method: 'GET', path: C, token: admin, expect: 200 });
  await x.send({ method: 'GET', path: `${C}/${clientId}`, token: admin, expect: 200 });
  await x.send({ method: 'GET', path: `${C}/ic-nobody`, token: admin, expect: 404 });
  await x.send({ method: 'POST', path: `${C}/ic-nobody/secret`, token: admin, expect: 404 });
  await x.send({ method: 'GET', path: `/tenants/nobody/api-clients`, token: admin, expect: 404 });
  const rotated = await x.send({ method: 'POST', path: `${C}/${clientId}/secret`, token: admin, expect: 200 });
  clientSecret = field(rotated, 'client-secret');
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const issued = await x.send({
    method: 'POST',
    path: '/token',
    headers: { ...form, authorization: basic },
    body: 'grant_type=client_credentials',
    expect: 200,
    note: 'HTTP Basic',
  });
  await x.send({
    method: 'POST',
    path: '/oauth/token',
    headers: form,
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      scope: 'integrations:read',
    }).toString(),
    expect: 200,
    note: 'form credentials',
  });
  await x.send({
    method: 'POST',
    path: '/token',
    headers: form,
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: 'wrong' }).toString(),
    expect: 401,
    note: 'wrong secret',
  });
  await x.send({
    method: 'POST',
    path: '/token',
    headers: { ...form, authorization: basic },
    body: 'grant_type=password',
    expect: 400,
    invalid: true,
    note: 'unsupported grant',
  });
  await x.send({
    method: 'POST',
    path: '/token',
    headers: { ...form, authorization: basic },
    body: 'grant_type=client_credentials&scope=platform:admin',
    expect: 400,
    note: 'scope beyond the client',
  });
  await x.send({
    method: 'POST',
    path: '/oauth/token',
    headers: { authorization: basic },
    json: { grant_type: 'client_credentials' },
    expect: 400,
    invalid: true,
    note: 'JSON body',
  });
  await x.send({
    method: 'POST',
    path: '/token',
    headers: { authorization: basic, 'content-type': 'text/plain' },
    body: 'x',
    expect: 415,
    invalid: true,
  });
  await x.send({
    method: 'POST',
    path: '/1.0/token',
    headers: { ...form, authorization: basic },
    body: 'grant_type=client_credentials&scope=integrations:read',
    expect: 200,
    note: 'HTTP Basic, /1.0',
  });
  await x.send({
    method: 'POST',
    path: '/token',
    headers: { ...form, authorization: basic },
    body: 'scope=integrations:read',
    expect: 400,
    invalid: true,
    note: 'no grant_type',
  });
  const serviceToken = field(issued, 'access_token');
  await x.send({ method: 'GET', path: `/1.0${I}`, token: serviceToken, expect: 200, note: "a client's token, /1.0" });
  await x.send({
    method: 'GET',
    path: `/tenants/${other}/integrations`,
    token: serviceToken,
    expect: 403,
    note: "a client's token, another tenant",
  });
  await x.send({ method: 'DELETE', path: `${C}/${clientId}`, token: admin, expect: 204 });
  await x.send({ method: 'DELETE', path: `${C}/${clientId}`, token: admin, expect: 404, note: 'again' });

  // --- audit
  await x.send({ method: 'GET', path: `/tenants/${t}/audit`, token: auditor, expect: 200 });
  const page = await x.send({ method: 'GET', path: `/tenants/${t}/audit?limit=2&action=integration.create`, token: admin, expect: 200 });
  const cursor = (page.json as Json | undefined)?.['next-cursor'];
  if (typeof cursor === 'string')
    await x.send({ method: 'GET', path: `/tenants/${t}/audit?limit=2&cursor=${cursor}`, token: admin, expect: 200, note: 'next page' });
  await x.send({
    method: 'GET',
    path: `/tenants/${t}/audit?limit=3`,
    token: admin,
    headers: { accept: 'application/x-ndjson' },
    expect: 200,
    note: 'NDJSON',
  });
  await x.send({ method: 'GET', path: `/tenants/${t}/audit?since=yesterday`, token: admin, expect: 400, invalid: true, note: 'bad since' });
  await x.send({ method: 'GET', path: `/tenants/${t}/audit?action=nope`, token: admin, expect: 400, invalid: true, note: 'bad action' });
  await x.send({ method: 'GET', path: `/tenants/${t}/audit`, token: reader, expect: 403, note: 'no audit:read' });
  await x.send({ method: 'GET', path: '/platform/audit?limit=5', token: admin, expect: 200 });
  await x.send({ method: 'GET', path: '/platform/audit', token: auditor, expect: 403, note: 'not admin' });
  // Valid by the document: OpenAPI cannot say that a query takes no other parameters; the 400 is documented.
  await x.send({ method: 'GET', path: `/tenants/${t}/audit?offset=3`, token: admin, expect: 400, note: 'unknown parameter' });

  // --- webhooks
  const W = `/tenants/${t}/webhooks`;
  const hook = await x.send({
    method: 'POST',
    path: W,
    token: hooks,
    json: { url: receiver.url, events: ['integration.created', 'integration.updated'], description: 'check' },
    expect: 201,
  });
  const hookId = field(hook, 'id');
  await x.send({
    method: 'POST',
    path: W,
    token: hooks,
    json: { url: receiver.url, events: ['nope'] },
    expect: 400,
    invalid: true,
    note: 'unknown event',
  });
  await x.send({
    method: 'POST',
    path: W,
    token: hooks,
    json: { url: 'ftp://example.com/x', events: ['integration.created'] },
    expect: 400,
    note: 'not http(s)',
  });
  await x.send({
    method: 'POST',
    path: W,
    token: reader,
    json: { url: receiver.url, events: ['integration.created'] },
    expect: 403,
    note: 'no webhooks:write',
  });
  await x.send({ method: 'GET', path: W, token: hooks, expect: 200 });
  await x.send({ method: 'GET', path: `${W}/${hookId}`, token: hooks, expect: 200 });
  await x.send({ method: 'GET', path: `${W}/wh-nobody`, token: hooks, expect: 404 });
  await x.send({ method: 'PATCH', path: `${W}/wh-nobody`, token: hooks, json: { enabled: false }, expect: 404 });
  await x.send({ method: 'POST', path: `${W}/wh-nobody/test`, token: hooks, expect: 404 });
  await x.send({ method: 'GET', path: `${W}/wh-nobody/deliveries`, token: hooks, expect: 404 });
  await x.send({ method: 'GET', path: W, token: reader, expect: 403, note: 'no webhooks:read' });
  await x.send({ method: 'PATCH', path: `${W}/${hookId}`, token: hooks, json: { description: 'on-call', enabled: true }, expect: 200 });
  await x.send({
    method: 'PATCH',
    path: `${W}/${hookId}`,
    token: hooks,
    json: { colour: 'red' },
    expect: 400,
    invalid: true,
    note: 'unknown field',
  });
  await x.send({ method: 'POST', path: `${W}/${hookId}/rotate-secret`, token: hooks, expect: 200 });
  await x.send({ method: 'POST', path: `${W}/${hookId}/test`, token: hooks, expect: 200 });
  // An event to deliver: a change of an integration.
  await x.send({ method: 'PATCH', path: `${I}/datasift`, token: admin, json: { username: 'someone' }, expect: 200 });
  let deliveryId: string | undefined;
  const deadline = Date.now() + 10_000;
  while (deliveryId === undefined && Date.now() < deadline) {
    const deliveries = await x.send({ method: 'GET', path: `${W}/${hookId}/deliveries`, token: hooks, expect: 200 });
    const list = Array.isArray(deliveries.json) ? (deliveries.json as Json[]) : [];
    const delivered = list.find((d) => d.status === 'delivered' || d.status === 'succeeded' || d['last-response-code'] === 200);
    if (delivered !== undefined && typeof delivered.id === 'string') deliveryId = delivered.id;
    else await sleep(500);
  }
  if (deliveryId === undefined) problems.push('no webhook delivery appeared within 10 s: redeliver not checked');
  else await x.send({ method: 'POST', path: `${W}/${hookId}/deliveries/${deliveryId}/redeliver`, token: hooks, expect: 202 });
  await x.send({ method: 'POST', path: `${W}/${hookId}/deliveries/dl-nobody/redeliver`, token: hooks, expect: 404 });
  await x.send({ method: 'DELETE', path: `${W}/${hookId}`, token: hooks, expect: 204 });
  await x.send({ method: 'DELETE', path: `${W}/${hookId}`, token: hooks, expect: 404, note: 'again' });

  // --- the original's /1.0 prefix
  await x.send({ method: 'GET', path: `/1.0/tenants/${t}`, token: admin, expect: 200 });
  await x.send({ method: 'GET', path: `/1.0${I}/sendgrid`, token: reader, expect: 200 });
  await x.send({
    method: 'POST',
    path: `/1.0${I}/twilio`,
    token: admin,
    headers: SEED_CONTENT_TYPE,
    json: SEED.twilio,
    expect: 200,
    note: 'seed example, replace',
  });
  await x.send({ method: 'GET', path: `/1.0${I}/nothing`, token: reader, expect: 404 });
  await x.send({ method: 'GET', path: `/1.0${I}`, expect: 401, invalid: true, note: 'no token' });

  // --- deleting: the seed's delete, then the tenant
  await x.send({ method: 'DELETE', path: `${I}/twilio`, token: admin, expect: 204 });
  await x.send({ method: 'DELETE', path: `${I}/twilio`, token: admin, expect: 404, note: 'again' });
  await x.send({ method: 'DELETE', path: `/tenants/${other}`, token: reader, expect: 403, note: 'not admin' });
  await x.send({ method: 'DELETE', path: `/tenants/${other}`, token: admin, expect: 204 });
  await x.send({ method: 'GET', path: `/tenants/${other}`, token: admin, expect: 404, note: 'deleted' });
  await x.send({ method: 'POST', path: '/tenants', token: admin, json: { id: other, name: 'Reuse' }, expect: 409, note: 'a deleted id' });
  await x.send({ method: 'DELETE', path: `/tenants/${other}`, token: admin, expect: 404, note: 'again' });
}

/** The second run: REQUIRE_IF_MATCH=true, RATE_LIMIT_MAX=4 per minute, TOKEN_MAX_FAILURES_PER_CLIENT=1, VERIFY_ON_SAVE=true. */
async function driveLimits(x: Driver, mint: Mint): Promise<void> {
  const t = 'tenant1';
  const I = `/tenants/${t}/integrations`;
  // Each purpose has its own subject, so its budget is its own.
  const writer = mint('integrations:read integrations:write', [t], 'if-match-probe');
  await x.send({
    method: 'PATCH',
    path: `${I}/datasift`,
    token: writer,
    json: { username: 'x' },
    expect: 428,
    note: 'no If-Match, REQUIRE_IF_MATCH',
  });
  const current = await x.send({ method: 'GET', path: `${I}/datasift`, token: writer, expect: 200 });
  await x.send({
    method: 'PATCH',
    path: `${I}/datasift`,
    token: writer,
    headers: { 'if-match': current.headers.get('etag') ?? '' },
    json: { username: 'y' },
    expect: 422,
    note: 'with If-Match, VERIFY_ON_SAVE: the vendor refuses',
  });
  await x.send({ method: 'DELETE', path: `${I}/datasift`, token: writer, expect: 428, note: 'no If-Match, REQUIRE_IF_MATCH' });
  const saver = mint('integrations:read integrations:write', [t], 'verify-on-save-probe');
  await x.send({
    method: 'POST',
    path: `${I}/twilio-eu`,
    token: saver,
    json: { type: 'twilio', account: 'AC-wrong', password: 'nope' },
    expect: 422,
    note: 'VERIFY_ON_SAVE, vendor refuses',
  });

  // The token endpoint: one failed authentication allowed per client id.
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const wrong = new URLSearchParams({ grant_type: 'client_credentials', client_id: 'ic-probe', client_secret: 'wrong' }).toString();
  await x.send({ method: 'POST', path: '/token', headers: form, body: wrong, expect: 401, note: 'unknown client' });
  await x.send({ method: 'POST', path: '/token', headers: form, body: wrong, expect: 429, note: 'TOKEN_MAX_FAILURES_PER_CLIENT' });

  // The rate limit, for a verified subject.
  const busy = mint('integrations:read', [t], 'rate-probe');
  for (let i = 0; i < 4; i++) await x.send({ method: 'GET', path: I, token: busy, expect: 200, note: `within RATE_LIMIT_MAX (${i + 1})` });
  await x.send({ method: 'GET', path: I, token: busy, expect: 429, note: 'over RATE_LIMIT_MAX' });
  await x.send({ method: 'GET', path: `/1.0${I}`, token: busy, expect: 429, note: 'over RATE_LIMIT_MAX' });
}

/**
 * What cannot be seen through Prism, and is checked elsewhere (every e2e answer goes through
 * test/helpers/openapi-contract.ts). Printed with the summary.
 */
const NOT_THROUGH_PRISM = [
  "a malformed JSON body: Prism's HTTP server parses JSON bodies itself and answers such a request 400 " +
    '{"error":{"code":"invalid_json"}} without forwarding it (test/errors.e2e-spec.ts checks the service\'s 400)',
  "the /1.0 server: Prism's router ignores the path of a server URL, so the proxies get each path also listed under /1.0",
  '500, and 503 (database unreachable, audit unwritable): not provoked here',
];

/** The document's operations no exchange reached (under either server). */
function operationsNotDriven(): string[] {
  const document = JSON.parse(readFileSync(join(ROOT, 'openapi.json'), 'utf8')) as { paths: Record<string, Record<string, unknown>> };
  const bases = ['', '/1.0'];
  const missing: string[] = [];
  for (const [template, item] of Object.entries(document.paths)) {
    const pattern = new RegExp(
      `^(?:${bases.map((b) => b.replace('.', '\\.')).join('|')})${template.replace(/\./g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`,
    );
    for (const method of Object.keys(item)) {
      if (!['get', 'put', 'post', 'patch', 'delete'].includes(method)) continue;
      if (!outcomes.some((o) => o.method.toLowerCase() === method && pattern.test(o.path)))
        missing.push(`${method.toUpperCase()} ${template}`);
    }
  }
  return missing;
}

function describeViolation(v: Violation): string {
  const where = (v.location ?? []).join('.');
  const severity = v.severity !== undefined && v.severity !== 'Error' ? ` (${v.severity.toLowerCase()})` : '';
  return `${where}${v.code !== undefined ? ` [${v.code}]` : ''}${severity}: ${v.message ?? JSON.stringify(v)}`;
}

function report(dir: string): void {
  const withViolations = outcomes.filter((o) => o.violations.length > 0);
  const violationCount = withViolations.reduce((n, o) => n + o.violations.length, 0);
  const undetected = outcomes.filter((o) => o.missingRequestViolation);
  const expectedCount = outcomes.reduce((n, o) => n + o.expectedRequestViolations.length, 0);
  const invalidSent = outcomes.filter((o) => o.expectedRequestViolations.length > 0 || o.missingRequestViolation).length;
  const statuses = [...new Set(outcomes.map((o) => o.status))].sort((a, b) => a - b);

  const out: string[] = [];
  if (process.env.PRISM_CHECK_VERBOSE === '1') {
    for (const o of outcomes) {
      out.push(`${o.status} ${o.label}`);
      for (const v of o.expectedRequestViolations) out.push(`      (expected) ${describeViolation(v)}`);
      for (const v of o.violations) out.push(`      VIOLATION ${describeViolation(v)}`);
    }
  }
  out.push('', `Prism validating proxy: ${outcomes.length} exchanges (statuses ${statuses.join(', ')})`);
  out.push(`  ${invalidSent} requests sent invalid on purpose; Prism reported ${expectedCount} request violations for them (expected)`);
  if (withViolations.length === 0) out.push('  0 violations');
  else {
    out.push(`  ${violationCount} violations in ${withViolations.length} exchanges:`);
    for (const o of withViolations) {
      out.push(`  - ${o.label} → ${o.status}`);
      for (const v of o.violations) out.push(`      ${describeViolation(v)}`);
    }
  }
  if (undetected.length > 0) {
    out.push(`  ${undetected.length} requests the service refuses for their shape, but the document accepts:`);
    for (const o of undetected) out.push(`  - ${o.label} → ${o.status}`);
  }
  const notDriven = operationsNotDriven();
  if (notDriven.length > 0) {
    out.push(`  ${notDriven.length} operations of the document no exchange reached (add them to scripts/prism-check.ts):`);
    for (const operation of notDriven) out.push(`  - ${operation}`);
  } else out.push('  every operation of the document was reached');
  if (problems.length > 0) {
    out.push(`  ${problems.length} other problems:`);
    for (const p of problems) out.push(`  - ${p}`);
  }
  out.push('  not checked through Prism:');
  for (const item of NOT_THROUGH_PRISM) out.push(`  - ${item}`);
  const failed = withViolations.length > 0 || undetected.length > 0 || problems.length > 0 || notDriven.length > 0;
  out.push(failed ? `FAILED (logs kept in ${dir})` : 'OK: the service and openapi.json agree');
  process.stdout.write(`${out.join('\n')}\n`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((error: unknown) => {
  stopChildren();
  process.stderr.write(`prism-check: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
