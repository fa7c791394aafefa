/**
 * `npm run bench`: the service against the hand-written baseline (bench/baseline)
 * on MariaDB, alternating A B A B per scenario. See bench/README.md.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { loadBenchConfig } from './config';
import { baseEnv, fmt, Harness, log, machineLoad, mib, type Side } from './harness';
import type { Connection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import {
  CREATED_ID_PREFIX,
  READ_WRITE_SECRETS,
  runLoad,
  SCENARIO_NAMES,
  SCENARIO_ORDER,
  scenarioRequests,
  TokenBook,
  type LoadStats,
  type ScenarioId,
} from './load';
import { expectedWire, INTEGRATION_IDS, INTEGRATION_PLAN, tenantId } from './seed';
import { cpuMsOf, freePort, httpCall, pidOf, startServer, type HttpAnswer, type RunningServer } from './servers';
import {
  CLIENT_TENANTS,
  createClients,
  failuresOf,
  hotGetRequests,
  issueTokens,
  measureTurn,
  TOKEN_SCENARIO_NAMES,
  tokenRequests,
  type BenchClient,
  type TokenRunRecord,
  type TokenScenarioId,
} from './tokens';

const config = loadBenchConfig();
const harness = new Harness(config);
let cleanUp: () => Promise<void> = () => harness.close();

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function once(work: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= work());
}

// ------------------------------------------------------------------ correctness check before measuring

/**
 * Both servers must give the same answers: plaintext secrets exactly as seeded
 * (so the seed's encryption is the service's), the list with its total, and a
 * replace that echoes what was sent and reads back the same.
 */
async function checkAnswers(server: RunningServer, tokens: TokenBook, tenants: number, failures: string[]): Promise<void> {
  const where = server.name;
  const expect = (ok: boolean, what: string): void => {
    if (!ok) failures.push(`${where}: ${what}`);
  };
  tokens.ensure(tenants);
  for (let n = 0; n < 8; n++) {
    const t = Math.floor(Math.random() * tenants);
    const id = INTEGRATION_IDS[n % INTEGRATION_IDS.length];
    const tid = tenantId(t);
    const answer = await httpCall(server.port, 'GET', `/tenants/${tid}/integrations/${id}`, { authorization: tokens.header(t) });
    expect(answer.status === 200, `GET ${tid}/${id} answered ${answer.status} ${answer.body.slice(0, 200)}`);
    if (answer.status === 200 && id !== 'twilio') {
      expect(
        answer.body === JSON.stringify(expectedWire(tid, id)),
        `GET ${tid}/${id} body differs from the seed: ${answer.body.slice(0, 300)}`,
      );
    }
    expect(typeof answer.headers.etag === 'string', `GET ${tid}/${id} has no ETag`);
  }
  const list = await httpCall(server.port, 'GET', `/tenants/${tenantId(1)}/integrations`, { authorization: tokens.header(1) });
  expect(list.status === 200, `GET list answered ${list.status}`);
  expect(
    list.headers['x-total-count'] === String(INTEGRATION_PLAN.length),
    `GET list X-Total-Count = ${String(list.headers['x-total-count'])}`,
  );
  if (list.status === 200) {
    const items = JSON.parse(list.body) as { id: string }[];
    expect(items.length === INTEGRATION_PLAN.length, `GET list has ${items.length} items`);
    const mine = items.filter((item) => item.id !== 'twilio');
    expect(
      isDeepStrictEqual(
        mine,
        INTEGRATION_IDS.filter((id) => id !== 'twilio').map((id) => expectedWire(tenantId(1), id)),
      ),
      'GET list items differ from the seed',
    );
  }
  const masked = await httpCall(server.port, 'GET', `/tenants/${tenantId(1)}/integrations/salesforce`, {
    authorization: `Bearer ${tokens.mint(tenantId(1), 'integrations:read')}`,
  });
  expect(
    masked.status === 200 && (JSON.parse(masked.body) as Record<string, string>).password === '********',
    'GET without integrations:secrets is not masked',
  );
  const body = { account: `AC${'0'.repeat(32)}`, password: `check-${server.name}` };
  const post = await httpCall(
    server.port,
    'POST',
    `/tenants/${tenantId(0)}/integrations/twilio`,
    { authorization: tokens.header(0), 'content-type': 'application/json' },
    JSON.stringify(body),
  );
  expect(post.status === 200, `POST replace answered ${post.status} ${post.body.slice(0, 200)}`);
  expect(post.body === JSON.stringify({ id: 'twilio', type: 'twilio', ...body }), `POST replace echoed ${post.body.slice(0, 200)}`);
  const back = await httpCall(server.port, 'GET', `/tenants/${tenantId(0)}/integrations/twilio`, { authorization: tokens.header(0) });
  expect(back.body === post.body, `GET after POST answered ${back.body.slice(0, 200)}`);
  const other = await httpCall(server.port, 'GET', `/tenants/${tenantId(2)}/integrations/pusher`, { authorization: tokens.header(1) });
  expect(other.status === 403, `a token of another tenant got ${other.status}`);
  const missing = await httpCall(server.port, 'GET', `/tenants/${tenantId(1)}/integrations/nope`, { authorization: tokens.header(1) });
  expect(missing.status === 404, `a missing integration got ${missing.status}`);
}

/** The names of an answer's headers, leaving out the transport's own (date, connection). */
function headerNames(answer: HttpAnswer): string {
  return Object.keys(answer.headers)
    .filter((name) => !['date', 'connection', 'keep-alive', 'transfer-encoding'].includes(name))
    .sort()
    .join(', ');
}

/**
 * The write contract, the same on both servers: create 201 with ETag "r1" and
 * the echo, replace 200 with the revision one up, If-Match (stale 412, a list,
 * `*`, on a missing id 412), a secret sent as the mask keeping the stored one
 * (decrypted or masked in the answer), a mask with nothing stored 400,
 * Salesforce's server-assigned instance kept by a replace that leaves it out,
 * the last verification cleared by every write, 404 for a missing tenant,
 * 400 for an unknown field. Works on new ids of tenant 2, deleted at the end,
 * so the read checks and the scenarios see the seed. Returns the header names
 * of a create and a replace answer, which must be the same on both servers.
 */
async function checkWrites(
  server: RunningServer,
  tokens: TokenBook,
  admin: Connection,
  db: string,
  failures: string[],
): Promise<Record<string, string>> {
  const expect = (ok: boolean, what: string, answer?: HttpAnswer): void => {
    if (!ok)
      failures.push(
        `${server.name}: ${what}${answer === undefined ? '' : ` (answered ${answer.status}, ETag ${String(answer.headers.etag)}: ${answer.body.slice(0, 200)})`}`,
      );
  };
  const tid = tenantId(2);
  const revealing = { authorization: tokens.header(2), 'content-type': 'application/json' };
  const hiding = {
    authorization: `Bearer ${tokens.mint(tid, 'integrations:read integrations:write')}`,
    'content-type': 'application/json',
  };
  const post = (id: string, body: unknown, headers: Record<string, string> = {}, as = revealing): Promise<HttpAnswer> =>
    httpCall(server.port, 'POST', `/tenants/${tid}/integrations/${id}`, { ...as, ...headers }, JSON.stringify(body));
  const get = (id: string): Promise<HttpAnswer> =>
    httpCall(server.port, 'GET', `/tenants/${tid}/integrations/${id}`, { authorization: tokens.header(2) });
  const is = (answer: HttpAnswer, status: number, etag: string, wire: Record<string, string>): boolean =>
    answer.status === status && answer.headers.etag === etag && answer.body === JSON.stringify(wire);
  const verification = async (id: string): Promise<RowDataPacket | undefined> => {
    const [rows] = await admin.query<RowDataPacket[]>(
      `SELECT verify_status, verify_message, verified_at FROM \`${db}\`.integrations WHERE tenant_id = ? AND id = ?`,
      [tid, id],
    );
    return rows[0];
  };
  const markVerified = (id: string): Promise<unknown> =>
    admin.query(
      `UPDATE \`${db}\`.integrations SET verify_status = 'ok', verify_message = 'bench', verified_at = NOW(3) WHERE tenant_id = ? AND id = ?`,
      [tid, id],
    );
  const cleared = (row: RowDataPacket | undefined): boolean =>
    row !== undefined && row.verify_status === null && row.verify_message === null && row.verified_at === null;

  const id = `check-${server.name}-${randomBytes(3).toString('hex')}`;
  const headers: Record<string, string> = {};
  try {
    const first = { type: 'twilio', account: `AC${'1'.repeat(32)}`, password: 'first-secret' };
    const second = { ...first, password: 'second-secret' };
    const created = await post(id, first);
    expect(is(created, 201, '"r1"', { id, ...first }), 'POST create: not 201 "r1" with the echo', created);
    headers.create = headerNames(created);
    const read = await get(id);
    expect(is(read, 200, '"r1"', { id, ...first }), 'GET after create differs', read);

    await markVerified(id);
    const replaced = await post(id, second);
    expect(is(replaced, 200, '"r2"', { id, ...second }), 'POST replace: not 200 "r2" with the echo', replaced);
    headers.replace = headerNames(replaced);
    expect(cleared(await verification(id)), 'POST replace left the last verification on the row');

    const stale = await post(id, first, { 'if-match': '"r1"' });
    expect(stale.status === 412, 'POST with a stale If-Match was not refused with 412', stale);
    const listed = await post(id, second, { 'if-match': 'W/"r9", "r2"' });
    expect(is(listed, 200, '"r3"', { id, ...second }), 'POST with If-Match naming the current revision in a list', listed);
    const anyRevision = await post(id, second, { 'if-match': '*' });
    expect(is(anyRevision, 200, '"r4"', { id, ...second }), 'POST with If-Match: * on an existing integration', anyRevision);
    const absent = await post(`${id}-absent`, first, { 'if-match': '*' });
    expect(absent.status === 412, 'POST with If-Match: * on a missing integration was not refused with 412', absent);

    // The mask keeps the stored secret: shown decrypted to a revealing token, masked otherwise; the last check is cleared.
    await markVerified(id);
    const kept = await post(id, { ...first, password: '********' });
    expect(is(kept, 200, '"r5"', { id, ...first, password: 'second-secret' }), 'POST with the mask (revealing token)', kept);
    expect(cleared(await verification(id)), 'POST with the mask left the last verification on the row');
    const keptHidden = await post(id, { ...first, password: '********' }, {}, hiding);
    expect(is(keptHidden, 200, '"r6"', { id, ...first, password: '********' }), 'POST with the mask (token without secrets)', keptHidden);
    const afterMask = await get(id);
    expect(
      is(afterMask, 200, '"r6"', { id, ...first, password: 'second-secret' }),
      'GET after the mask: stored secret not kept',
      afterMask,
    );
    const nothingStored = await post(`${id}-masked`, { ...first, password: '********' });
    expect(nothingStored.status === 400, 'POST create with the mask and nothing stored was not refused with 400', nothingStored);

    // Salesforce: `instance` is server-assigned, kept (and echoed) by a replace that leaves it out.
    const sf = {
      type: 'salesforce',
      'consumer-key': `3MVG9${'k'.repeat(40)}`,
      'consumer-secret': 'C0NSUMER',
      username: 'bench@example.com',
      password: 'pw-1',
      'secret-token': 'token-1',
    };
    const instance = 'https://bench.my.salesforce.com';
    const sfCreated = await post(`${id}-sf`, { ...sf, instance });
    expect(is(sfCreated, 201, '"r1"', { id: `${id}-sf`, ...sf, instance }), 'POST create salesforce with instance', sfCreated);
    const sfReplaced = await post(`${id}-sf`, { ...sf, password: 'pw-2' });
    expect(
      is(sfReplaced, 200, '"r2"', { id: `${id}-sf`, ...sf, password: 'pw-2', instance }),
      'POST replace salesforce without instance: instance not kept',
      sfReplaced,
    );
    const sfRead = await get(`${id}-sf`);
    expect(is(sfRead, 200, '"r2"', { id: `${id}-sf`, ...sf, password: 'pw-2', instance }), 'GET after the salesforce replace', sfRead);

    const unknownField = await post(id, { ...first, colour: 'blue' });
    expect(unknownField.status === 400, 'POST with an unknown field was not refused with 400', unknownField);
    const noTenant = await httpCall(
      server.port,
      'POST',
      '/tenants/tenant-missing/integrations/twilio',
      { authorization: `Bearer ${tokens.mint('tenant-missing', READ_WRITE_SECRETS)}`, 'content-type': 'application/json' },
      JSON.stringify(first),
    );
    expect(noTenant.status === 404, 'POST to a tenant that does not exist was not 404', noTenant);
  } finally {
    await admin.query(`DELETE FROM \`${db}\`.integrations WHERE tenant_id = ? AND id LIKE 'check-%'`, [tid]);
  }
  return headers;
}

// ------------------------------------------------------------------ measurement

interface RunRecord {
  scenario: ScenarioId;
  side: Side;
  round: number;
  db: string;
  tenants: number;
  warmup: LoadStats | null;
  stats: LoadStats;
  peakRssBytes: number;
  startMs: number;
  loadBefore: number;
  /** CPU time of the server process (user + system) per completed request during the measured run. */
  serverCpuUsPerRequest: number | null;
  /** The same for mariadbd (which other work on the machine may share). */
  dbCpuUsPerRequest: number | null;
  /** What the server printed during the measured run. */
  loggedBytes: number;
  /** Scenario 5: rows the turn created (warm-up included), deleted after it. */
  createdRows?: number;
  /** The baseline under a POST scenario: its write counters over the turn (warm-up included). */
  writeStats?: WriteStats;
}

/** What the baseline's GET /bench/write-stats answers. */
interface WriteStats {
  writes: number;
  statements: number;
  deadlocks: number;
  lockWaitTimeouts: number;
  lostRaces: number;
  conflicts409: number;
}

interface ScenarioSummary {
  scenario: ScenarioId;
  name: string;
  service: SideSummary;
  baseline: SideSummary;
  ratioReqs: number;
  ratioP99: number;
}

interface SideSummary {
  requestsPerSec: number;
  p50: number;
  p99: number;
  rounds: number[];
  peakRssBytes: number;
  failed: number;
  serverCpuUsPerRequest: number;
  dbCpuUsPerRequest: number;
}

/** Non-2xx answers and socket errors; in scenario 5, where every id is new, also any success other than 201. */
function failedOf(s: LoadStats | null, scenario?: ScenarioId): number {
  if (s === null) return 0;
  const notCreated =
    scenario === 5
      ? Object.entries(s.statusCodes).reduce((sum, [code, n]) => sum + (code !== '201' && code.startsWith('2') ? n : 0), 0)
      : 0;
  return s.non2xx + s.errors + notCreated;
}

function summarize(records: RunRecord[], scenario: ScenarioId): ScenarioSummary {
  const side = (which: Side): SideSummary => {
    const mine = records.filter((r) => r.scenario === scenario && r.side === which);
    const mean = (pick: (s: LoadStats) => number): number => mine.reduce((sum, r) => sum + pick(r.stats), 0) / Math.max(1, mine.length);
    return {
      requestsPerSec: mean((s) => s.requestsPerSec),
      p50: mean((s) => s.p50),
      p99: mean((s) => s.p99),
      rounds: mine.map((r) => Math.round(r.stats.requestsPerSec)),
      peakRssBytes: Math.max(0, ...mine.map((r) => r.peakRssBytes)),
      serverCpuUsPerRequest: mine.reduce((sum, r) => sum + (r.serverCpuUsPerRequest ?? NaN), 0) / Math.max(1, mine.length),
      dbCpuUsPerRequest: mine.reduce((sum, r) => sum + (r.dbCpuUsPerRequest ?? NaN), 0) / Math.max(1, mine.length),
      failed: mine.reduce((sum, r) => sum + failedOf(r.stats, scenario) + failedOf(r.warmup, scenario), 0),
    };
  };
  const service = side('service');
  const baseline = side('baseline');
  return {
    scenario,
    name: SCENARIO_NAMES[scenario],
    service,
    baseline,
    ratioReqs: baseline.requestsPerSec > 0 ? service.requestsPerSec / baseline.requestsPerSec : NaN,
    ratioP99: baseline.p99 > 0 ? service.p99 / baseline.p99 : NaN,
  };
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]): string =>
    `| ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (c === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join('\n');
}

// ------------------------------------------------------------------ cold start (SQLite, fresh DATA_DIR)

async function coldStarts(samples: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'bench-cold-'));
    const port = await freePort();
    try {
      // Exactly `npm start` on a fresh clone: no settings at all, so SQLite and development keys are created under DATA_DIR.
      const server = await startServer({
        name: 'service (cold start)',
        args: [join(config.root, 'dist', 'main.js')],
        env: { ...baseEnv(), PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir },
        port,
        readyPath: '/health/ready',
        cwd: dataDir,
        logFile: join(config.resultsDir, `${harness.stamp}-coldstart.log`),
      });
      times.push(server.startMs);
      await server.stop();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  return times;
}

// ------------------------------------------------------------------ main

async function main(): Promise<number> {
  log(
    `bench: ${fmt(config.tenants)} tenants x ${INTEGRATION_PLAN.length} integrations; 100x set ${fmt(config.bigTenants)} tenants; ` +
      `${config.rounds} rounds x ${config.duration} s (+${config.warmup} s warm-up), ${config.connections} connections; scenarios ${[...config.scenarios].join(',')}`,
  );
  if (machineLoad() > 1) log(`note: load average ${machineLoad()} before the run: other work on this 2-core machine will skew the numbers`);
  log('building the service (scripts/build-if-needed.js) and the baseline');
  harness.build();

  const result: Record<string, unknown> = {
    startedAt: new Date().toISOString(),
    node: process.version,
    config: { ...config, scenarios: [...config.scenarios] },
  };
  const coldStartMs = config.coldStarts > 0 ? await coldStarts(config.coldStarts) : [];
  if (coldStartMs.length > 0)
    log(`cold start to /health/ready on SQLite (fresh DATA_DIR): ${coldStartMs.map((t) => `${fmt(t)} ms`).join(', ')}`);
  result.coldStartMs = coldStartMs;

  const admin = await harness.connectMaria();
  const [[version]] = (await admin.query('SELECT VERSION() AS v, @@innodb_buffer_pool_size AS bp')) as unknown as [
    { v: string; bp: number | string }[],
  ];
  const originalPool = Number(version.bp);
  result.mariadb = { version: version.v, innodbBufferPool: originalPool };
  log(`MariaDB ${version.v} answers; InnoDB buffer pool ${mib(originalPool)}`);

  const mariadbPid = pidOf('mariadbd', 'mysqld');
  const tokens = new TokenBook(harness.secrets.jwtSecret);
  const records: RunRecord[] = [];
  const checkFailures: string[] = [];
  let poolChanged = false;
  // Also run by SIGINT/SIGTERM: no server left running, no database left behind, the buffer pool as it was.
  cleanUp = once(async () => {
    await harness.stopAll();
    if (!config.keepDb) {
      await harness.dropDatabases(config.dbName, config.bigDbName);
      log(`dropped ${config.dbName} and ${config.bigDbName}`);
    }
    if (poolChanged) {
      await admin.query('SET GLOBAL innodb_buffer_pool_size = ?', [originalPool]).catch(() => undefined);
      log(`InnoDB buffer pool set back to ${mib(originalPool)}`);
    }
    await harness.close();
  });

  const deleteCreated = async (db: string): Promise<number> => {
    const [result] = await admin.query<ResultSetHeader>(`DELETE FROM \`${db}\`.integrations WHERE id LIKE ?`, [`${CREATED_ID_PREFIX}%`]);
    return result.affectedRows;
  };

  const measure = async (scenario: ScenarioId, db: string, tenants: number): Promise<void> => {
    const requests = scenarioRequests(scenario, tenants, tokens);
    for (let round = 1; round <= config.rounds; round++) {
      for (const side of ['service', 'baseline'] as const) {
        const server = await harness.start(side, db);
        let record: RunRecord | undefined;
        try {
          const loadBefore = machineLoad();
          const warmup = config.warmup > 0 ? await runLoad(server.port, requests, config.warmup, config.connections) : null;
          const logBytes0 = fileSize(side === 'service' ? harness.serviceLog : harness.baselineLog);
          const cpu0 = [cpuMsOf(server.pid), mariadbPid === undefined ? undefined : cpuMsOf(mariadbPid)];
          const stats = await runLoad(server.port, requests, config.duration, config.connections);
          const cpu1 = [cpuMsOf(server.pid), mariadbPid === undefined ? undefined : cpuMsOf(mariadbPid)];
          const perRequest = (i: number): number | null => {
            const [a, b] = [cpu0[i], cpu1[i]];
            return a === undefined || b === undefined || stats.total === 0 ? null : ((b - a) * 1000) / stats.total;
          };
          const peakRssBytes = server.peakRss();
          const writeStats =
            side === 'baseline' && (scenario === 3 || scenario === 5)
              ? (JSON.parse((await httpCall(server.port, 'GET', '/bench/write-stats', {})).body) as WriteStats)
              : undefined;
          const loggedBytes = fileSize(side === 'service' ? harness.serviceLog : harness.baselineLog) - logBytes0;
          // A server that prints per request (a leftover debug line, request logging) is measuring its console.
          if (loggedBytes > 64 * 1024)
            log(`  note: ${side} wrote ${fmt(loggedBytes / 1024)} KB of output during the measured run; see its log`);
          record = {
            scenario,
            side,
            round,
            db,
            tenants,
            warmup,
            stats,
            peakRssBytes,
            startMs: server.startMs,
            loadBefore,
            serverCpuUsPerRequest: perRequest(0),
            dbCpuUsPerRequest: perRequest(1),
            loggedBytes,
            writeStats,
          };
          records.push(record);
          const failed = failedOf(stats, scenario) + failedOf(warmup, scenario);
          log(
            `  [${scenario}] round ${round} ${side.padEnd(8)} ${fmt(stats.requestsPerSec).padStart(7)} req/s  ` +
              `p50 ${stats.p50} ms  p99 ${stats.p99} ms  CPU/req ${fmt(perRequest(0) ?? NaN)} us (MariaDB ${fmt(perRequest(1) ?? NaN)} us)  peak RSS ${mib(peakRssBytes)}` +
              (failed > 0 ? `  FAILED ${failed}: ${JSON.stringify(stats.statusCodes)}, ${stats.errors} errors` : '') +
              (writeStats === undefined
                ? ''
                : `  [writes ${fmt(writeStats.writes)}, deadlocks retried ${writeStats.deadlocks}, lost races ${writeStats.lostRaces}]`),
          );
        } finally {
          await harness.stop(server);
          // Each turn starts from the seeded set (and a kept database stays reusable).
          if (scenario === 5) {
            const created = await deleteCreated(db);
            if (record !== undefined) record.createdRows = created;
          }
        }
      }
    }
  };

  // Scenarios 6 and 7 (bench/tokens.ts): the service alone, on the small set, with API clients made through its API.
  const tokenRecords: TokenRunRecord[] = [];
  const tokenScenarios = async (): Promise<void> => {
    const count = Math.min(CLIENT_TENANTS, config.tenants);
    log(`scenarios 6 and 7: creating ${count} API clients (one per tenant) through the API`);
    const setup = await harness.start('service', config.dbName);
    let clients: BenchClient[] = [];
    try {
      clients = await createClients(setup, tokens, count);
    } finally {
      await harness.stop(setup);
    }
    const turn = async (scenario: TokenScenarioId, side: string, round: number, requests: Record<string, unknown>[]): Promise<void> => {
      const record = await measureTurn(
        () => harness.start('service', config.dbName),
        (server) => harness.stop(server),
        cpuMsOf,
        { scenario, side, round, requests, warmup: config.warmup, duration: config.duration, connections: config.connections },
      );
      tokenRecords.push(record);
      const failed = failuresOf(record);
      log(
        `  [${scenario}] round ${round} ${side.padEnd(8)} ${fmt(record.stats.requestsPerSec).padStart(7)} req/s  p50 ${record.stats.p50} ms  p99 ${record.stats.p99} ms  ` +
          `CPU/req ${fmt(record.serverCpuUsPerRequest ?? NaN)} us  peak RSS ${mib(record.peakRssBytes)}` +
          (failed > 0 ? `  FAILED ${failed}: ${JSON.stringify(record.stats.statusCodes)}, ${record.stats.errors} errors` : ''),
      );
    };
    try {
      if (config.scenarios.has(6)) {
        log(`scenario 6: ${TOKEN_SCENARIO_NAMES[6]}, ${count} clients`);
        for (let round = 1; round <= config.rounds; round++) await turn(6, 'service', round, tokenRequests(clients));
      }
      if (config.scenarios.has(7)) {
        log(`scenario 7: ${TOKEN_SCENARIO_NAMES[7]} on ${count} tenants`);
        const issuer = await harness.start('service', config.dbName);
        let self: string[] = [];
        try {
          self = await issueTokens(issuer, clients);
        } finally {
          await harness.stop(issuer);
        }
        tokens.ensure(count);
        const external = Array.from({ length: count }, (_, t) => tokens.header(t));
        for (let round = 1; round <= config.rounds; round++) {
          await turn(7, 'external', round, hotGetRequests(external));
          await turn(7, 'self', round, hotGetRequests(self));
        }
      }
    } finally {
      // A kept database goes back to the seed.
      await admin.query(`DELETE FROM \`${config.dbName}\`.api_clients`);
    }
  };

  try {
    const small = await harness.prepareDatabase(config.dbName, config.tenants, 'small set');
    result.small = { db: config.dbName, tenants: config.tenants, integrations: config.tenants * INTEGRATION_PLAN.length, ...small };

    log('checking that the service and the baseline give the same answers');
    const writeHeaders: Partial<Record<Side, Record<string, string>>> = {};
    for (const side of ['service', 'baseline'] as const) {
      const server = await harness.start(side, config.dbName);
      try {
        await checkAnswers(server, tokens, config.tenants, checkFailures);
        writeHeaders[side] = await checkWrites(server, tokens, admin, config.dbName, checkFailures);
      } finally {
        await harness.stop(server);
      }
    }
    for (const kind of ['create', 'replace']) {
      const [mine, theirs] = [writeHeaders.service?.[kind], writeHeaders.baseline?.[kind]];
      if (mine !== theirs) checkFailures.push(`the headers of a ${kind} answer differ: service [${mine}], baseline [${theirs}]`);
    }
    if (checkFailures.length > 0) throw new Error(`the servers do not answer as expected:\n  ${checkFailures.join('\n  ')}`);
    log('  both answer as expected: seeded secrets decrypt, list + X-Total-Count, masking, replace echo, 403, 404');
    log(
      '  and write alike: create 201 / replace 200 with ETags, If-Match, the mask, server-assigned instance, verification cleared, same headers',
    );

    for (const scenario of SCENARIO_ORDER.filter((s) => s !== 4 && config.scenarios.has(s))) {
      log(`scenario ${scenario}: ${SCENARIO_NAMES[scenario]} on ${fmt(config.tenants)} tenants`);
      await measure(scenario, config.dbName, config.tenants);
    }

    if (config.scenarios.has(6) || config.scenarios.has(7)) await tokenScenarios();

    if (config.scenarios.has(4) && config.bigTenants > 0) {
      // Tenants are all alike: extrapolate, and make room for the 100x set in the buffer pool before seeding it.
      const needed = Math.ceil(((small.bytes / config.tenants) * config.bigTenants + small.bytes) * 1.3);
      const chunk = 128 * 1024 * 1024;
      const target = config.bufferPool === 'auto' ? Math.ceil(needed / chunk) * chunk : config.bufferPool;
      if (target > originalPool) {
        log(
          `InnoDB buffer pool ${mib(originalPool)} < ~${mib(needed)} needed: growing it to ${mib(target)} for this run (BENCH_BUFFER_POOL=keep leaves it)`,
        );
        await admin.query('SET GLOBAL innodb_buffer_pool_size = ?', [target]);
        poolChanged = true;
      } else if (needed > originalPool) {
        log(`note: the 100x set (~${mib(needed)}) does not fit the ${mib(originalPool)} InnoDB buffer pool; reads will hit the disk`);
      }
      const big = await harness.prepareDatabase(config.bigDbName, config.bigTenants, '100x set');
      log('100x set: reading it once so that it sits in the buffer pool, as a live database would');
      await admin.query(`SELECT COUNT(*), SUM(LENGTH(secrets)) FROM \`${config.bigDbName}\`.integrations`);
      await admin.query(`SELECT COUNT(*), SUM(LENGTH(data_key_wrapped)) FROM \`${config.bigDbName}\`.tenants`);
      result.big = { db: config.bigDbName, tenants: config.bigTenants, integrations: config.bigTenants * INTEGRATION_PLAN.length, ...big };
      log(`signing ${fmt(config.bigTenants)} tenant tokens`);
      tokens.ensure(config.bigTenants);
      log(
        `scenario 4: ${SCENARIO_NAMES[4]} on ${fmt(config.bigTenants)} tenants (${fmt(config.bigTenants * INTEGRATION_PLAN.length)} integrations)`,
      );
      await measure(4, config.bigDbName, config.bigTenants);
    }
  } finally {
    await cleanUp();
  }

  // ---------------------------------------------------------------- report
  const scenarios = SCENARIO_ORDER.filter((s) => records.some((r) => r.scenario === s));
  const summaries = scenarios.map((s) => summarize(records, s));
  const rows: string[][] = [
    [
      'scenario',
      'service req/s',
      'p50 ms',
      'p99 ms',
      'baseline req/s',
      'p50 ms',
      'p99 ms',
      'req/s ratio',
      'p99 ratio',
      'service peak RSS',
      'baseline peak RSS',
      'failed',
    ],
  ];
  for (const s of summaries) {
    rows.push([
      `${s.scenario}. ${s.name}`,
      fmt(s.service.requestsPerSec),
      fmt(s.service.p50, 1),
      fmt(s.service.p99, 1),
      fmt(s.baseline.requestsPerSec),
      fmt(s.baseline.p50, 1),
      fmt(s.baseline.p99, 1),
      s.ratioReqs.toFixed(2),
      s.ratioP99.toFixed(2),
      mib(s.service.peakRssBytes),
      mib(s.baseline.peakRssBytes),
      String(s.service.failed + s.baseline.failed),
    ]);
  }
  const cpuRows: string[][] = [['CPU per request (us)', 'service', 'baseline', 'ratio', 'MariaDB for service', 'MariaDB for baseline']];
  for (const s of summaries) {
    cpuRows.push([
      `${s.scenario}. ${s.name}`,
      fmt(s.service.serverCpuUsPerRequest),
      fmt(s.baseline.serverCpuUsPerRequest),
      (s.service.serverCpuUsPerRequest / s.baseline.serverCpuUsPerRequest).toFixed(2),
      fmt(s.service.dbCpuUsPerRequest),
      fmt(s.baseline.dbCpuUsPerRequest),
    ]);
  }
  const lines: string[] = summaries.length > 0 ? ['', table(rows), '', table(cpuRows), ''] : [''];
  for (const s of summaries)
    lines.push(`  ${s.scenario}. req/s per round: service ${s.service.rounds.join(' / ')}; baseline ${s.baseline.rounds.join(' / ')}`);
  for (const scenario of [3, 5] as const) {
    const mine = records.filter((r) => r.scenario === scenario && r.writeStats !== undefined).map((r) => r.writeStats as WriteStats);
    if (mine.length === 0) continue;
    const sum = (pick: (w: WriteStats) => number): number => mine.reduce((total, w) => total + pick(w), 0);
    lines.push(
      `  ${scenario}. baseline writes (warm-ups included): ${fmt(sum((w) => w.writes))}, ${fmt(
        sum((w) => w.statements) /
          Math.max(
            1,
            sum((w) => w.writes),
          ),
        2,
      )} statements each (reads included); ` +
        `deadlocks retried ${sum((w) => w.deadlocks)}, lock wait timeouts ${sum((w) => w.lockWaitTimeouts)}, lost races ${sum((w) => w.lostRaces)}, 409s ${sum((w) => w.conflicts409)}`,
    );
  }
  const creates = records.filter((r) => r.createdRows !== undefined);
  if (creates.length > 0) {
    const perSide = (side: Side): string =>
      creates
        .filter((r) => r.side === side)
        .map((r) => fmt(r.createdRows ?? 0))
        .join(' / ');
    lines.push(
      `  5. rows created per turn (warm-up included, deleted after it): service ${perSide('service')}; baseline ${perSide('baseline')}`,
    );
  }
  const one = summaries.find((s) => s.scenario === 1);
  const big = summaries.find((s) => s.scenario === 4);
  if (one && big) {
    lines.push(
      `  100x data (${fmt(config.bigTenants * INTEGRATION_PLAN.length)} integrations): service GET one at ${((big.service.requestsPerSec / one.service.requestsPerSec) * 100).toFixed(0)}% ` +
        `of its small-data req/s (baseline ${((big.baseline.requestsPerSec / one.baseline.requestsPerSec) * 100).toFixed(0)}%)`,
    );
  }
  if (tokenRecords.length > 0) {
    const of = (scenario: TokenScenarioId, side: string): TokenRunRecord[] => tokenRecords.filter((r) => r.scenario === scenario && r.side === side);
    const mean = (list: TokenRunRecord[], pick: (r: TokenRunRecord) => number): number => list.reduce((sum, r) => sum + pick(r), 0) / Math.max(1, list.length);
    const tokenRows: string[][] = [['scenario (service only)', 'side', 'req/s', 'p50 ms', 'p99 ms', 'CPU/req us', 'peak RSS', 'failed']];
    for (const [scenario, side] of [[6, 'service'], [7, 'external'], [7, 'self']] as [TokenScenarioId, string][]) {
      const list = of(scenario, side);
      if (list.length === 0) continue;
      tokenRows.push([
        `${scenario}. ${TOKEN_SCENARIO_NAMES[scenario]}`,
        side,
        fmt(mean(list, (r) => r.stats.requestsPerSec)),
        fmt(mean(list, (r) => r.stats.p50), 1),
        fmt(mean(list, (r) => r.stats.p99), 1),
        fmt(mean(list, (r) => r.serverCpuUsPerRequest ?? NaN)),
        mib(Math.max(0, ...list.map((r) => r.peakRssBytes))),
        String(list.reduce((sum, r) => sum + failuresOf(r), 0)),
      ]);
    }
    lines.push(table(tokenRows), '');
    const [external, self] = [of(7, 'external'), of(7, 'self')];
    if (external.length > 0 && self.length > 0) {
      const reqs = mean(self, (r) => r.stats.requestsPerSec) / mean(external, (r) => r.stats.requestsPerSec);
      const p99 = mean(self, (r) => r.stats.p99) / mean(external, (r) => r.stats.p99);
      lines.push(
        `  7. self-issued / external token on the same GET: req/s ${reqs.toFixed(3)}, p99 ${p99.toFixed(3)} (target: within 5 %); ` +
          `per round self ${self.map((r) => fmt(r.stats.requestsPerSec)).join(' / ')}, external ${external.map((r) => fmt(r.stats.requestsPerSec)).join(' / ')}`,
      );
    }
  }
  const peak = Math.max(0, ...records.filter((r) => r.side === 'service').map((r) => r.peakRssBytes), ...tokenRecords.map((r) => r.peakRssBytes));
  lines.push(`  service peak RSS under load (VmHWM, any scenario): ${mib(peak)}`);
  if (coldStartMs.length > 0) {
    const sorted = [...coldStartMs].sort((a, b) => a - b);
    lines.push(
      `  service cold start to /health/ready on SQLite, fresh DATA_DIR: median ${fmt(sorted[Math.floor(sorted.length / 2)])} ms (min ${fmt(sorted[0])} ms, ${sorted.length} runs)`,
    );
  }
  const loads = [...records, ...tokenRecords].map((r) => r.loadBefore);
  lines.push(
    `  ${config.connections} connections; ${config.rounds} rounds x ${config.duration} s per side, A B A B, ${config.warmup} s warm-up before each; ` +
      `load average before runs ${Math.min(...loads)}..${Math.max(...loads)}`,
  );
  const file = join(config.resultsDir, `${harness.stamp}.json`);
  writeFileSync(file, JSON.stringify({ ...result, finishedAt: new Date().toISOString(), summaries, records, tokenRecords }, null, 2));
  lines.push(`  raw results: bench/results/${basename(file)}`);
  const failed = summaries.reduce((sum, s) => sum + s.service.failed + s.baseline.failed, 0) + tokenRecords.reduce((sum, r) => sum + failuresOf(r), 0);
  if (failed > 0) lines.push(`  FAILED: ${failed} requests answered non-2xx (in scenario 5: not 201) or errored`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return failed > 0 ? 1 : 0;
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(130);
    stopping = true;
    log(`${signal}: stopping the servers and cleaning up (again to quit at once)`);
    void cleanUp().finally(() => process.exit(130));
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    void cleanUp().finally(() => process.exit(2));
  },
);
