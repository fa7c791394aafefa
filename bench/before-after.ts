/**
 * `npm run bench:before -- [<rev>]`: the service as it was at an earlier
 * revision (default ce0242e, the last commit before issue 14) against the
 * service as it is now, on MariaDB, A B A B per scenario, in one run. Each
 * side has its own database, migrated by its own build and seeded alike.
 * See "Before and after" in bench/README.md.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { checkAnswers } from './checks';
import { loadBenchConfig } from './config';
import { fmt, Harness, log, machineLoad, mariadbPidOf, mib, type ServiceBuild } from './harness';
import { READ_WRITE, scenarioRequests, TokenBook } from './load';
import { measureTurn, once, ratio, runBench, summarizeTurns, table, turnFailures, turnLine } from './measure';
import type { Probe, SideSummary, Turn } from './measure';
import { buildInputsChanged, buildInputsDiffer, resolveCommit, RevisionBuild, type Commit } from './revision';
import { INTEGRATION_PLAN } from './seed';
import { pidOf } from './servers';

/** The last commit before issue 14 (integration versions and rollback, the audit trail). */
const DEFAULT_BEFORE = 'ce0242e';

type SideName = 'before' | 'after';
const SIDES: readonly SideName[] = ['before', 'after'];

type ScenarioKey = 'masked' | 'reveal' | 'replace';

interface Scenario {
  name: string;
  /** The request mix: bench/load.ts's scenario 1 (GET one) or 3 (POST replace). */
  load: 1 | 3;
  /** Whose tokens: with integrations:secrets or without. */
  revealing: boolean;
  /** Issue 14's aim for after/before req/s, when it states one. */
  aim?: { low: number; high?: number; text: string };
}

const SCENARIOS: Record<ScenarioKey, Scenario> = {
  masked: { name: 'GET one, masked', load: 1, revealing: false, aim: { low: 0.95, high: 1.05, text: 'within 5 %' } },
  reveal: { name: 'GET one, revealing', load: 1, revealing: true },
  replace: { name: 'POST replace (twilio)', load: 3, revealing: true, aim: { low: 0.8, text: 'at most 20 % slower' } },
};

/** Rows each table gained, per request of the turn (warm-up included). */
type RowsPerRequest = Record<string, number>;

type BeforeAfterRecord = Turn & { scenario: ScenarioKey; side: SideName; round: number; rowsPerRequest?: RowsPerRequest };

const USAGE = `npm run bench:before -- [<rev>]   (default ${DEFAULT_BEFORE}; see "Before and after" in bench/README.md)`;

const config = loadBenchConfig();
const beforeRev = process.argv[2] ?? process.env.BENCH_BEFORE ?? DEFAULT_BEFORE;
const afterRev = process.env.BENCH_AFTER || undefined;
const isScenario = (key: string): key is ScenarioKey => Object.hasOwn(SCENARIOS, key);
const scenarioNames = (process.env.BENCH_BEFORE_SCENARIOS ?? 'masked,reveal,replace')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const scenarioKeys = scenarioNames.filter(isScenario);
if (beforeRev.startsWith('-') || process.argv.length > 3 || scenarioKeys.length !== scenarioNames.length) {
  process.stderr.write(`usage: ${USAGE}\nBENCH_BEFORE_SCENARIOS: a comma-separated list of ${Object.keys(SCENARIOS).join(', ')}\n`);
  process.exit(2);
}

const harness = new Harness(config);
let cleanUp: () => Promise<void> = () => harness.close();

/** Row counts of every table of `db` (the schemas of the two sides differ: whatever the service writes shows up). */
async function rowCounts(db: string): Promise<Record<string, number>> {
  const [tables] = await harness.db.query<RowDataPacket[]>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY table_name",
    [db],
  );
  const counts: Record<string, number> = {};
  for (const { name } of tables as { name: string }[]) counts[name] = await harness.scalar(`SELECT COUNT(*) FROM \`${db}\`.\`${name}\``);
  return counts;
}

function rowsProbe(db: string): Probe<RowsPerRequest> {
  return async () => {
    const before = await rowCounts(db);
    return async (turn) => {
      const after = await rowCounts(db);
      const requests = turn.stats.total + (turn.warmup?.total ?? 0);
      const added: RowsPerRequest = {};
      for (const [name, count] of Object.entries(after)) {
        const delta = count - (before[name] ?? 0);
        if (delta !== 0 && requests > 0) added[name] = delta / requests;
      }
      return added;
    };
  };
}

const rowsText = (rows: RowsPerRequest | undefined): string =>
  Object.entries(rows ?? {})
    .map(([name, n]) => `${name} ${n > 0 ? '+' : ''}${n.toFixed(2)}`)
    .join(', ') || 'none';

/** The side's label: the commit, or this checkout's working tree at HEAD. */
function describe(commit: Commit, workingTree: boolean): string {
  const changed = workingTree && buildInputsChanged(config.root) ? ', with uncommitted changes to its sources' : '';
  return `${workingTree ? 'working tree at ' : ''}${commit.short} "${commit.subject}"${changed}`;
}

async function main(): Promise<number> {
  const revisions = { before: resolveCommit(config.root, beforeRev), after: resolveCommit(config.root, afterRev ?? 'HEAD') };
  const labels = { before: describe(revisions.before, false), after: describe(revisions.after, afterRev === undefined) };
  const perTurn = config.warmup + config.duration + 3;
  const turns = scenarioKeys.length * config.rounds * 2;
  log(`before: ${labels.before}`);
  log(`after:  ${labels.after}`);
  log(
    `scenarios ${scenarioKeys.join(', ')}; ${config.rounds} rounds x ${config.duration} s (+${config.warmup} s warm-up) per side, A B A B, ` +
      `${config.connections} connections, ${fmt(config.tenants)} tenants x ${INTEGRATION_PLAN.length} integrations; ` +
      `about ${fmt((turns * perTurn) / 60, 1)} min of turns after the builds and the seeding`,
  );
  if (!buildInputsDiffer(config.root, revisions.before.sha, afterRev === undefined ? undefined : revisions.after.sha))
    log('note: both sides build from the same sources: an A/A run, whose ratios show the noise');
  // Every step has its own bound (build 10 min, start 60 s, stop 5 s, fixed-length load); this one is for what no step foresaw.
  const deadlineS = 20 * 60 + turns * (perTurn + 70);
  setTimeout(() => {
    log(`still running after ${fmt(deadlineS / 60)} min: giving up`);
    void cleanUp().finally(() => process.exit(2));
  }, deadlineS * 1000).unref();
  if (machineLoad() > 1) log(`note: load average ${machineLoad()} before the run: other work on this 2-core machine will skew the numbers`);

  // Kept databases are named after their commit, so a kept pair is reused only by the same pair; otherwise a run's
  // own suffix keeps two runs on one MariaDB apart.
  const suffix = config.keepDb ? '' : `_${randomBytes(3).toString('hex')}`;
  const dbs: Record<SideName, string> = {
    before: process.env.BENCH_BEFORE_DB ?? `integrations_bench_before_${revisions.before.short}${suffix}`,
    after: process.env.BENCH_AFTER_DB ?? `integrations_bench_after_${afterRev === undefined ? 'worktree' : revisions.after.short}${suffix}`,
  };
  if (dbs.before === dbs.after) throw new Error(`the two sides need two databases (both are ${dbs.before})`);
  const revisionBuilds: RevisionBuild[] = [];
  let seeding = false;
  cleanUp = once(async () => {
    await harness.stopAll();
    if (seeding && !config.keepDb) {
      await harness.dropDatabases(dbs.before, dbs.after).catch(() => undefined);
      log(`dropped ${dbs.before} and ${dbs.after}`);
    }
    for (const build of revisionBuilds) await build.remove();
    if (revisionBuilds.length > 0) log(`removed ${revisionBuilds.map((b) => b.dir).join(' and ')}`);
    await harness.close();
  });
  const buildOf = async (side: SideName, rev: string | undefined): Promise<ServiceBuild> => {
    if (rev === undefined) {
      log(`${side}: building this checkout when stale (scripts/build-if-needed.js)`);
      harness.buildService();
      return harness.serviceBuild(side, harness.service.dist);
    }
    const build = new RevisionBuild(config.root, revisions[side]);
    revisionBuilds.push(build);
    log(`${side}: exporting ${revisions[side].short} (git archive) into a temporary directory`);
    const started = Date.now();
    await build.build(log);
    log(`${side}: built in ${fmt((Date.now() - started) / 1000, 1)} s`);
    return harness.serviceBuild(side, build.dist);
  };

  const builds = { before: await buildOf('before', beforeRev), after: await buildOf('after', afterRev) };
  const admin = await harness.connectMaria();
  const [[version]] = (await admin.query('SELECT VERSION() AS v')) as unknown as [{ v: string }[]];
  log(`MariaDB ${version.v} answers`);
  // The server the bench talks to, from its pid file: the first mariadbd in /proc may be a Galera node (npm run cluster:up).
  const mariadbPid = (await mariadbPidOf(admin)) ?? pidOf('mariadbd', 'mysqld');
  const tokens = { revealing: new TokenBook(harness.secrets.jwtSecret), masked: new TokenBook(harness.secrets.jwtSecret, READ_WRITE) };
  const records: BeforeAfterRecord[] = [];

  seeding = true;
  for (const side of SIDES) await harness.prepareDatabase(dbs[side], config.tenants, side, builds[side]);

  log('checking that both answer the seeded data (secrets decrypted and masked, list, replace echo, 403, 404)');
  const failures: string[] = [];
  for (const side of SIDES) {
    const server = await harness.start(builds[side], dbs[side]);
    try {
      await checkAnswers(server, tokens.revealing, config.tenants, failures);
    } finally {
      await harness.stop(server);
    }
  }
  if (failures.length > 0) throw new Error(`a side does not answer as expected:\n  ${failures.join('\n  ')}`);

  for (const key of scenarioKeys) {
    const scenario = SCENARIOS[key];
    log(`${key}: ${scenario.name} on ${fmt(config.tenants)} tenants`);
    const requests = scenarioRequests(scenario.load, config.tenants, scenario.revealing ? tokens.revealing : tokens.masked);
    for (let round = 1; round <= config.rounds; round++) {
      for (const side of SIDES) {
        const { probed: rowsPerRequest, ...turn } = await measureTurn(
          () => harness.start(builds[side], dbs[side]),
          (server) => harness.stop(server),
          {
            requests,
            warmup: config.warmup,
            duration: config.duration,
            connections: config.connections,
            dbPid: mariadbPid,
            logFile: builds[side].logFile,
          },
          rowsProbe(dbs[side]),
        );
        records.push({ scenario: key, side, round, ...turn, rowsPerRequest });
        log(
          turnLine(`[${key}] round ${round} ${side.padEnd(6)}`, turn, turnFailures(turn), `  [rows/request: ${rowsText(rowsPerRequest)}]`),
        );
      }
    }
  }
  await cleanUp();

  // ---------------------------------------------------------------- report
  const summaries = scenarioKeys.map((key) => {
    const of = (side: SideName): SideSummary => summarizeTurns(records.filter((r) => r.scenario === key && r.side === side));
    const [before, after] = [of('before'), of('after')];
    const written = (side: SideName): RowsPerRequest => {
      const mine = records.filter((r) => r.scenario === key && r.side === side);
      const names = [...new Set(mine.flatMap((r) => Object.keys(r.rowsPerRequest ?? {})))].sort();
      return Object.fromEntries(
        names.map((name) => [name, mine.reduce((sum, r) => sum + (r.rowsPerRequest?.[name] ?? 0), 0) / mine.length]),
      );
    };
    const reqs = ratio(after.requestsPerSec, before.requestsPerSec);
    const aim = SCENARIOS[key].aim;
    // Above the band is no regression: the aim keeps a change from slowing the route, and it did not; say so rather than 'missed'.
    const verdict =
      aim === undefined
        ? undefined
        : reqs < aim.low
          ? 'missed'
          : aim.high !== undefined && reqs > aim.high
            ? 'faster than before (above the band)'
            : 'met';
    return {
      key,
      name: SCENARIOS[key].name,
      before,
      after,
      ratioReqs: reqs,
      rowsBefore: written('before'),
      rowsAfter: written('after'),
      aim,
      verdict,
    };
  });
  const rows: string[][] = [
    [
      'scenario',
      'before req/s',
      'after req/s',
      'after/before',
      'before p50 / p99 ms',
      'after p50 / p99 ms',
      'p99 after/before',
      'before peak RSS',
      'after peak RSS',
      'failed',
      'aim (req/s)',
    ],
  ];
  const cpu: string[][] = [['CPU per request (us)', 'before', 'after', 'after/before', 'MariaDB before', 'MariaDB after', 'after/before']];
  for (const s of summaries) {
    rows.push([
      s.name,
      fmt(s.before.requestsPerSec),
      fmt(s.after.requestsPerSec),
      s.ratioReqs.toFixed(3),
      `${fmt(s.before.p50, 1)} / ${fmt(s.before.p99, 1)}`,
      `${fmt(s.after.p50, 1)} / ${fmt(s.after.p99, 1)}`,
      ratio(s.after.p99, s.before.p99).toFixed(2),
      mib(s.before.peakRssBytes),
      mib(s.after.peakRssBytes),
      String(s.before.failed + s.after.failed),
      s.aim === undefined ? '-' : `${s.aim.text}: ${s.verdict}`,
    ]);
    cpu.push([
      s.name,
      fmt(s.before.serverCpuUsPerRequest),
      fmt(s.after.serverCpuUsPerRequest),
      ratio(s.after.serverCpuUsPerRequest, s.before.serverCpuUsPerRequest).toFixed(2),
      fmt(s.before.dbCpuUsPerRequest),
      fmt(s.after.dbCpuUsPerRequest),
      ratio(s.after.dbCpuUsPerRequest, s.before.dbCpuUsPerRequest).toFixed(2),
    ]);
  }
  const lines = ['', `before: ${labels.before}`, `after:  ${labels.after}`, '', table(rows), '', table(cpu), ''];
  for (const s of summaries) {
    lines.push(
      `  ${s.key}: req/s per round: before ${s.before.rounds.map((n) => fmt(n)).join(' / ')}; after ${s.after.rounds.map((n) => fmt(n)).join(' / ')}`,
    );
    lines.push(`  ${s.key}: rows written per request: before ${rowsText(s.rowsBefore)}; after ${rowsText(s.rowsAfter)}`);
  }
  const loads = records.map((r) => r.loadBefore);
  lines.push(
    `  ${config.connections} connections; ${config.rounds} rounds x ${config.duration} s per side, A B A B, ${config.warmup} s warm-up before each; ` +
      `load average before turns ${Math.min(...loads)}..${Math.max(...loads)}; the aims are read on req/s, a short or busy run only hints`,
  );
  const file = join(config.resultsDir, `${harness.stamp}-before-after.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        finishedAt: new Date().toISOString(),
        node: process.version,
        mariadb: version.v,
        before: { rev: beforeRev, ...revisions.before, label: labels.before, db: dbs.before },
        after: { rev: afterRev ?? 'working tree', ...revisions.after, label: labels.after, db: dbs.after },
        config: { ...config, scenarios: scenarioKeys },
        summaries,
        records,
      },
      null,
      2,
    ),
  );
  lines.push(`  raw results: bench/results/${basename(file)}; the servers' output: bench/results/${harness.stamp}-{before,after}.log`);
  const failed = summaries.reduce((sum, s) => sum + s.before.failed + s.after.failed, 0);
  if (failed > 0) lines.push(`  FAILED: ${failed} requests answered non-2xx or errored`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return failed > 0 ? 1 : 0;
}

runBench('bench:before', main, () => cleanUp(), log);
