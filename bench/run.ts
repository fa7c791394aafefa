/**
 * `npm run bench`: the service against the hand-written baseline (bench/baseline)
 * on MariaDB, alternating A B A B per scenario. See bench/README.md.
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { loadBenchConfig } from './config';
import { baseEnv, fmt, Harness, log, machineLoad, mib, type Side } from './harness';
import { runLoad, SCENARIO_NAMES, scenarioRequests, TokenBook, type LoadStats, type ScenarioId } from './load';
import { expectedWire, INTEGRATION_IDS, INTEGRATION_PLAN, tenantId } from './seed';
import { cpuMsOf, freePort, httpCall, pidOf, startServer, type RunningServer } from './servers';

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

const failedOf = (s: LoadStats | null): number => (s === null ? 0 : s.non2xx + s.errors);

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
      failed: mine.reduce((sum, r) => sum + failedOf(r.stats) + failedOf(r.warmup), 0),
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

  const measure = async (scenario: ScenarioId, db: string, tenants: number): Promise<void> => {
    const requests = scenarioRequests(scenario, tenants, tokens);
    for (let round = 1; round <= config.rounds; round++) {
      for (const side of ['service', 'baseline'] as const) {
        const server = await harness.start(side, db);
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
          const loggedBytes = fileSize(side === 'service' ? harness.serviceLog : harness.baselineLog) - logBytes0;
          // A server that prints per request (a leftover debug line, request logging) is measuring its console.
          if (loggedBytes > 64 * 1024)
            log(`  note: ${side} wrote ${fmt(loggedBytes / 1024)} KB of output during the measured run; see its log`);
          records.push({
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
          });
          const failed = failedOf(stats) + failedOf(warmup);
          log(
            `  [${scenario}] round ${round} ${side.padEnd(8)} ${fmt(stats.requestsPerSec).padStart(7)} req/s  ` +
              `p50 ${stats.p50} ms  p99 ${stats.p99} ms  CPU/req ${fmt(perRequest(0) ?? NaN)} us (MariaDB ${fmt(perRequest(1) ?? NaN)} us)  peak RSS ${mib(peakRssBytes)}` +
              (failed > 0 ? `  FAILED ${failed}: ${JSON.stringify(stats.statusCodes)}, ${stats.errors} errors` : ''),
          );
        } finally {
          await harness.stop(server);
        }
      }
    }
  };

  try {
    const small = await harness.prepareDatabase(config.dbName, config.tenants, 'small set');
    result.small = { db: config.dbName, tenants: config.tenants, integrations: config.tenants * INTEGRATION_PLAN.length, ...small };

    log('checking that the service and the baseline give the same answers');
    for (const side of ['service', 'baseline'] as const) {
      const server = await harness.start(side, config.dbName);
      try {
        await checkAnswers(server, tokens, config.tenants, checkFailures);
      } finally {
        await harness.stop(server);
      }
    }
    if (checkFailures.length > 0) throw new Error(`the servers do not answer as expected:\n  ${checkFailures.join('\n  ')}`);
    log('  both answer as expected: seeded secrets decrypt, list + X-Total-Count, masking, replace echo, 403, 404');

    for (const scenario of ([1, 2, 3] as const).filter((s) => config.scenarios.has(s))) {
      log(`scenario ${scenario}: ${SCENARIO_NAMES[scenario]} on ${fmt(config.tenants)} tenants`);
      await measure(scenario, config.dbName, config.tenants);
    }

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
  const scenarios = ([1, 2, 3, 4] as const).filter((s) => records.some((r) => r.scenario === s));
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
  const lines: string[] = ['', table(rows), '', table(cpuRows), ''];
  for (const s of summaries)
    lines.push(`  ${s.scenario}. req/s per round: service ${s.service.rounds.join(' / ')}; baseline ${s.baseline.rounds.join(' / ')}`);
  const one = summaries.find((s) => s.scenario === 1);
  const big = summaries.find((s) => s.scenario === 4);
  if (one && big) {
    lines.push(
      `  100x data (${fmt(config.bigTenants * INTEGRATION_PLAN.length)} integrations): service GET one at ${((big.service.requestsPerSec / one.service.requestsPerSec) * 100).toFixed(0)}% ` +
        `of its small-data req/s (baseline ${((big.baseline.requestsPerSec / one.baseline.requestsPerSec) * 100).toFixed(0)}%)`,
    );
  }
  const peak = Math.max(0, ...records.filter((r) => r.side === 'service').map((r) => r.peakRssBytes));
  lines.push(`  service peak RSS under load (VmHWM, any scenario): ${mib(peak)}`);
  if (coldStartMs.length > 0) {
    const sorted = [...coldStartMs].sort((a, b) => a - b);
    lines.push(
      `  service cold start to /health/ready on SQLite, fresh DATA_DIR: median ${fmt(sorted[Math.floor(sorted.length / 2)])} ms (min ${fmt(sorted[0])} ms, ${sorted.length} runs)`,
    );
  }
  const loads = records.map((r) => r.loadBefore);
  lines.push(
    `  ${config.connections} connections; ${config.rounds} rounds x ${config.duration} s per side, A B A B, ${config.warmup} s warm-up before each; ` +
      `load average before runs ${Math.min(...loads)}..${Math.max(...loads)}`,
  );
  const file = join(config.resultsDir, `${harness.stamp}.json`);
  writeFileSync(file, JSON.stringify({ ...result, finishedAt: new Date().toISOString(), summaries, records }, null, 2));
  lines.push(`  raw results: bench/results/${basename(file)}`);
  const failed = summaries.reduce((sum, s) => sum + s.service.failed + s.baseline.failed, 0);
  if (failed > 0) lines.push(`  FAILED: ${failed} requests answered non-2xx or errored`);
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
