/**
 * `npm run bench`: the service against the hand-written baseline (bench/baseline)
 * on MariaDB, alternating A B A B per scenario. See bench/README.md.
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { ResultSetHeader } from 'mysql2/promise';
import { checkAnswers, checkWrites } from './checks';
import { loadBenchConfig } from './config';
import { baseEnv, fmt, Harness, log, machineLoad, mariadbPidOf, mib, type Side } from './harness';
import { CREATED_ID_PREFIX, SCENARIO_NAMES, SCENARIO_ORDER, scenarioRequests, TokenBook, type ScenarioId } from './load';
import {
  measureTurn,
  once,
  ratio,
  runBench,
  summarizeTurns,
  table,
  turnFailures,
  turnLine,
  type Probe,
  type SideSummary,
  type Turn,
  type TurnOptions,
} from './measure';
import { INTEGRATION_PLAN } from './seed';
import { freePort, httpCall, pidOf, startServer } from './servers';
import {
  CLIENT_TENANTS,
  createClients,
  hotGetRequests,
  issueTokens,
  TOKEN_SCENARIO_NAMES,
  tokenRequests,
  type BenchClient,
  type TokenRunRecord,
  type TokenScenarioId,
} from './tokens';

const config = loadBenchConfig();
const harness = new Harness(config);
let cleanUp: () => Promise<void> = () => harness.close();

// ------------------------------------------------------------------ measurement

/** One measured turn of scenarios 1 to 5 (bench/measure.ts) and where it ran. */
type RunRecord = Turn & {
  scenario: ScenarioId;
  side: Side;
  round: number;
  db: string;
  tenants: number;
  /** Scenario 5: rows the turn created (warm-up included), deleted after it. */
  createdRows?: number;
  /** The baseline under a POST scenario: its write counters over the turn (warm-up included). */
  writeStats?: WriteStats;
};

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

/** In scenario 5 every id is new: any success but 201 is a failure too. */
const onlyStatus = (scenario: ScenarioId): string | undefined => (scenario === 5 ? '201' : undefined);

function summarize(records: RunRecord[], scenario: ScenarioId): ScenarioSummary {
  const side = (which: Side): SideSummary =>
    summarizeTurns(
      records.filter((r) => r.scenario === scenario && r.side === which),
      onlyStatus(scenario),
    );
  const service = side('service');
  const baseline = side('baseline');
  return {
    scenario,
    name: SCENARIO_NAMES[scenario],
    service,
    baseline,
    ratioReqs: ratio(service.requestsPerSec, baseline.requestsPerSec),
    ratioP99: ratio(service.p99, baseline.p99),
  };
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

  // The server the bench talks to, from its pid file: the first mariadbd in /proc may be a Galera node (npm run cluster:up).
  const mariadbPid = (await mariadbPidOf(admin)) ?? pidOf('mariadbd', 'mysqld');
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

  const turnOptions = (requests: Record<string, unknown>[], logFile: string): TurnOptions => ({
    requests,
    warmup: config.warmup,
    duration: config.duration,
    connections: config.connections,
    dbPid: mariadbPid,
    logFile,
  });
  // The baseline under a POST scenario counts its statements, deadlocks and lost races.
  const writeStatsOf: Probe<WriteStats> = async (server) => async () =>
    JSON.parse((await httpCall(server.port, 'GET', '/bench/write-stats', {})).body) as WriteStats;

  const measure = async (scenario: ScenarioId, db: string, tenants: number): Promise<void> => {
    const requests = scenarioRequests(scenario, tenants, tokens);
    for (let round = 1; round <= config.rounds; round++) {
      for (const side of ['service', 'baseline'] as const) {
        let record: RunRecord | undefined;
        try {
          const { probed: writeStats, ...turn } = await measureTurn(
            () => harness.start(side, db),
            (server) => harness.stop(server),
            turnOptions(requests, side === 'service' ? harness.serviceLog : harness.baselineLog),
            side === 'baseline' && (scenario === 3 || scenario === 5) ? writeStatsOf : undefined,
          );
          record = { scenario, side, round, db, tenants, ...turn, writeStats };
          records.push(record);
          log(
            turnLine(
              `[${scenario}] round ${round} ${side.padEnd(8)}`,
              turn,
              turnFailures(turn, onlyStatus(scenario)),
              writeStats === undefined
                ? ''
                : `  [writes ${fmt(writeStats.writes)}, deadlocks retried ${writeStats.deadlocks}, lost races ${writeStats.lostRaces}]`,
            ),
          );
        } finally {
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
      const { probed: _, ...measured } = await measureTurn(
        () => harness.start('service', config.dbName),
        (server) => harness.stop(server),
        turnOptions(requests, harness.serviceLog),
      );
      tokenRecords.push({ scenario, side, round, ...measured });
      log(turnLine(`[${scenario}] round ${round} ${side.padEnd(8)}`, measured, turnFailures(measured)));
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
        // A B B A: each side goes first as often as the other, so what a turn leaves behind (MariaDB's purge of
        // the audit rows the GETs write, caches) does not always land on the same side.
        for (let round = 1; round <= config.rounds; round++) {
          const sides: ['external' | 'self', string[]][] = [
            ['external', external],
            ['self', self],
          ];
          if (round % 2 === 0) sides.reverse();
          for (const [side, headers] of sides) await turn(7, side, round, hotGetRequests(headers));
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
    const of = (scenario: TokenScenarioId, side: string): SideSummary =>
      summarizeTurns(tokenRecords.filter((r) => r.scenario === scenario && r.side === side));
    const tokenRows: string[][] = [['scenario (service only)', 'side', 'req/s', 'p50 ms', 'p99 ms', 'CPU/req us', 'peak RSS', 'failed']];
    for (const [scenario, side] of [
      [6, 'service'],
      [7, 'external'],
      [7, 'self'],
    ] as [TokenScenarioId, string][]) {
      const s = of(scenario, side);
      if (s.rounds.length === 0) continue;
      tokenRows.push([
        `${scenario}. ${TOKEN_SCENARIO_NAMES[scenario]}`,
        side,
        fmt(s.requestsPerSec),
        fmt(s.p50, 1),
        fmt(s.p99, 1),
        fmt(s.serverCpuUsPerRequest),
        mib(s.peakRssBytes),
        String(s.failed),
      ]);
    }
    lines.push(table(tokenRows), '');
    const [external, self] = [of(7, 'external'), of(7, 'self')];
    if (external.rounds.length > 0 && self.rounds.length > 0) {
      lines.push(
        `  7. self-issued / external token on the same GET: req/s ${ratio(self.requestsPerSec, external.requestsPerSec).toFixed(3)}, ` +
          `p99 ${ratio(self.p99, external.p99).toFixed(3)} (target: within 5 %); ` +
          `per round self ${self.rounds.map((n) => fmt(n)).join(' / ')}, external ${external.rounds.map((n) => fmt(n)).join(' / ')}`,
      );
    }
  }
  const peak = Math.max(
    0,
    ...records.filter((r) => r.side === 'service').map((r) => r.peakRssBytes),
    ...tokenRecords.map((r) => r.peakRssBytes),
  );
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
  const failed =
    summaries.reduce((sum, s) => sum + s.service.failed + s.baseline.failed, 0) + tokenRecords.reduce((sum, r) => sum + turnFailures(r), 0);
  if (failed > 0) lines.push(`  FAILED: ${failed} requests answered non-2xx (in scenario 5: not 201) or errored`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return failed > 0 ? 1 : 0;
}

runBench('bench', main, () => cleanUp(), log);
