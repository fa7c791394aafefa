/**
 * `npm run bench:cluster` (issue 16): the same workloads, in one run, on
 *
 *   A. one instance on the standalone MariaDB (127.0.0.1:3306),
 *   B. one instance on Galera node 1 (127.0.0.1:3311),
 *   C. three instances, one per Galera node, the load spread evenly over them,
 *
 * every instance with REDIS_URL set (as a deployment of several would be), so
 * that only the topology differs. The cluster is `npm run cluster:up`'s; this
 * never starts or stops it. See "Scenario: cluster" in bench/README.md.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Redis } from 'ioredis';
import { createConnection, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import { checkAnswers } from './checks';
import { loadBenchConfig } from './config';
import { fmt, Harness, log, machineLoad, mariadbPidFile, mariadbPidOf, mib, pidInFile, type ServiceBuild } from './harness';
import { CREATED_ID_PREFIX, SCENARIO_NAMES, scenarioRequests, TokenBook, type LoadStats } from './load';
import {
  failedOf,
  measureTurn,
  once,
  ratio,
  runBench,
  summarizeTurns,
  table,
  turnFailures,
  turnLine,
  type SideSummary,
  type Turn,
} from './measure';
import { INTEGRATION_PLAN } from './seed';
import type { RunningServer } from './servers';

/** The workloads: scenario 1's GET one (revealing token, as `npm run bench`), 3's POST replace, 5's POST create. */
type Workload = 1 | 3 | 5;
const WORKLOADS: readonly Workload[] = [1, 3, 5];

type SideKey = 'A' | 'B' | 'C';
const SIDE_KEYS: readonly SideKey[] = ['A', 'B', 'C'];

const config = loadBenchConfig();
// Shorter than `npm run bench`'s turns, so that 3 sides x 3 workloads x 2 rounds fit in about 5 minutes.
if (process.env.BENCH_DURATION === undefined) config.duration = 6;
if (process.env.BENCH_WARMUP === undefined) config.warmup = 2;
// A multiple of 3, so that C's three instances get as many connections each.
if (process.env.BENCH_CONNECTIONS === undefined) config.connections = 48;
// Always a fresh pair of databases, dropped at the end.
config.keepDb = false;
config.dbName = process.env.BENCH_CLUSTER_DB ?? 'integrations_bench_cluster';
const workloads = process.env.BENCH_SCENARIOS === undefined ? WORKLOADS : WORKLOADS.filter((w) => config.scenarios.has(w));
const clusterUrls = (
  process.env.BENCH_CLUSTER_URLS ?? 'mysql://root@127.0.0.1:3311,mysql://root@127.0.0.1:3312,mysql://root@127.0.0.1:3313'
)
  .split(',')
  .map((u) => u.trim().replace(/\/+$/, ''))
  .filter(Boolean);
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

const standalone = new Harness(config);
// Same run: same file names, JWT secret and master key, so one TokenBook serves every side.
const galera = new Harness({ ...config, mysqlUrl: clusterUrls[0] }, standalone);
let cleanUp: () => Promise<void> = async () => {
  await galera.close();
  await standalone.close();
};

const hostOf = (url: string): string => new URL(url).host;

interface Side {
  key: SideKey;
  name: string;
  harness: Harness;
  /** One instance per server, each with DATABASE_URL on it. */
  servers: string[];
  /** Its database: the standalone server, or the cluster (whose every node applies every write). */
  db: 'standalone' | 'galera';
  build: ServiceBuild;
}

type ClusterRecord = Turn & {
  workload: Workload;
  side: SideKey;
  round: number;
  createdRows?: number;
  /** Galera transactions that lost a conflict with another node's during the turn (ClusterSnapshot.conflicts). */
  galeraConflicts: number;
  /** Set when a Galera node restarted or the cluster shrank around the turn (another job on the cluster). */
  clusterChanged?: string;
};

/** Workload 5: every id is new, so any success but 201 is a failure. */
const onlyStatus = (workload: Workload): string | undefined => (workload === 5 ? '201' : undefined);

const count = (stats: LoadStats | null, match: (code: string) => boolean): number =>
  stats === null ? 0 : Object.entries(stats.statusCodes).reduce((sum, [code, n]) => sum + (match(code) ? n : 0), 0);

interface NodeState {
  url: string;
  /** Where the node keeps its pid: read again around every turn, so a restart is seen. */
  pidFile?: string;
  problem?: string;
}

/** Each node must answer and say wsrep_ready=ON with wsrep_cluster_size = the number of URLs. */
async function clusterNodes(): Promise<NodeState[]> {
  const states: NodeState[] = [];
  for (const url of clusterUrls) {
    try {
      const connection = await createConnection({ uri: url, connectTimeout: 2000 });
      try {
        const [rows] = await connection.query<RowDataPacket[]>("SHOW STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_cluster_size')");
        const status = Object.fromEntries(rows.map((r) => [String(r.Variable_name), String(r.Value)]));
        const problem =
          status.wsrep_ready !== 'ON'
            ? `wsrep_ready is '${status.wsrep_ready ?? 'unset'}' (not a Galera node, or not synced)`
            : status.wsrep_cluster_size !== String(clusterUrls.length)
              ? `wsrep_cluster_size is ${status.wsrep_cluster_size}, not ${clusterUrls.length}`
              : undefined;
        states.push({ url, pidFile: await mariadbPidFile(connection), problem });
      } finally {
        await connection.end();
      }
    } catch (error) {
      states.push({ url, problem: `does not answer (${(error as Error).message})` });
    }
  }
  return states;
}

/** What the cluster looked like at one moment, read around every turn. */
interface ClusterSnapshot {
  /** Each node's pid (from its pid file), undefined when it does not run. */
  pids: (number | undefined)[];
  /** wsrep_cluster_size as each node sees it ('no answer' when it does not). */
  sizes: string[];
  /**
   * wsrep_local_cert_failures + wsrep_local_bf_aborts summed over the nodes:
   * transactions that lost a conflict with another node's (the service retries
   * them like deadlocks). Other users of the cluster count too.
   */
  conflicts: number;
}

async function clusterSnapshot(nodes: readonly NodeState[]): Promise<ClusterSnapshot> {
  const sizes: string[] = [];
  let conflicts = 0;
  for (const { url } of nodes) {
    try {
      const connection = await createConnection({ uri: url, connectTimeout: 2000 });
      try {
        const [rows] = await connection.query<RowDataPacket[]>(
          "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_size', 'wsrep_local_cert_failures', 'wsrep_local_bf_aborts')",
        );
        const status = Object.fromEntries(rows.map((r) => [String(r.Variable_name), String(r.Value)]));
        sizes.push(status.wsrep_cluster_size ?? 'unset');
        conflicts += Number(status.wsrep_local_cert_failures ?? 0) + Number(status.wsrep_local_bf_aborts ?? 0);
      } finally {
        await connection.end();
      }
    } catch {
      sizes.push('no answer');
    }
  }
  return { pids: nodes.map((n) => pidInFile(n.pidFile)), sizes, conflicts };
}

async function redisAnswers(): Promise<string | undefined> {
  const redis = new Redis(redisUrl, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG' ? undefined : 'PING was not answered PONG';
  } catch (error) {
    return (error as Error).message;
  } finally {
    redis.disconnect();
  }
}

/** Deletes what the instances left under this run's key prefix (nothing is expected with the rate limit off). */
async function dropRedisKeys(prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  let dropped = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) dropped += await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } catch {
    // Redis gone: nothing to clean up that it could keep.
  } finally {
    redis.disconnect();
  }
  return dropped;
}

async function main(): Promise<number> {
  if (clusterUrls.length < 2) throw new Error(`BENCH_CLUSTER_URLS must name the Galera nodes, comma-separated (got ${clusterUrls.length})`);
  const nodes = await clusterNodes();
  const down = nodes.filter((n) => n.problem !== undefined);
  if (down.length > 0) {
    await cleanUp();
    process.stderr.write(
      `bench:cluster: the Galera cluster is not up:\n${down.map((n) => `  ${hostOf(n.url)}: ${n.problem}`).join('\n')}\n` +
        `Start it with \`npm run cluster:up\` (${clusterUrls.length} nodes on ${clusterUrls.map(hostOf).join(', ')}; it stays up), then run \`npm run bench:cluster\` again.\n`,
    );
    return 2;
  }
  const redisProblem = await redisAnswers();
  if (redisProblem !== undefined) {
    await cleanUp();
    process.stderr.write(`bench:cluster: Redis at ${redisUrl} does not answer (${redisProblem}): start it, or set BENCH_REDIS_URL.\n`);
    return 2;
  }

  const turns = workloads.length * config.rounds * SIDE_KEYS.length;
  // Per round of a workload: A and B one instance each, C as many as nodes (its warm-up scales with them, its start is slower).
  const roundSeconds = 3 * (config.warmup + config.duration) + config.warmup * (clusterUrls.length - 1) + 8;
  const estimateS = workloads.length * config.rounds * roundSeconds + 15;
  log(
    `bench:cluster: ${fmt(config.tenants)} tenants x ${INTEGRATION_PLAN.length} integrations; workloads ${workloads.join(',')}; ` +
      `${config.rounds} rounds x ${config.duration} s per side (+${config.warmup} s warm-up per instance), ${config.connections} connections; ` +
      `about ${fmt(estimateS / 60, 1)} min`,
  );
  log(
    `note: the load generator, 1 or 3 service processes and 1 or 3 mariadbd share this machine's 2 cores: ` +
      `side C gets no more CPU than A or B, so read it as the cost of the topology on one machine, not as how it scales over machines`,
  );
  if (config.connections % 3 !== 0)
    log(`note: ${config.connections} connections do not split evenly over 3 instances (autocannon gives connection i to instance i mod 3)`);
  if (machineLoad() > 1) log(`note: load average ${machineLoad()} before the run: other work on this 2-core machine will skew the numbers`);
  const deadlineS = 5 * 60 + estimateS + turns * 60;
  setTimeout(() => {
    log(`still running after ${fmt(deadlineS / 60)} min: giving up`);
    void cleanUp().finally(() => process.exit(2));
  }, deadlineS * 1000).unref();

  log('building the service (scripts/build-if-needed.js)');
  standalone.buildService();
  // Its own key prefix: the instances share Redis with whatever else uses it.
  const redisPrefix = `bench-cluster-${randomBytes(3).toString('hex')}:`;
  const instanceEnv = (server: string): Record<string, string> => ({
    DATABASE_URL: `${server}/${config.dbName}`,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: redisPrefix,
  });

  const standaloneAdmin = await standalone.connectMaria();
  const galeraAdmin = await galera.connectMaria(false);
  const settingsOf = async (connection: typeof standaloneAdmin): Promise<Record<string, unknown>> => {
    const [rows] = await connection.query<RowDataPacket[]>(
      'SELECT VERSION() AS version, @@innodb_buffer_pool_size AS innodb_buffer_pool_size, @@innodb_flush_log_at_trx_commit AS innodb_flush_log_at_trx_commit, @@sync_binlog AS sync_binlog, @@log_bin AS log_bin',
    );
    return { ...rows[0] };
  };
  const servers = { standalone: await settingsOf(standaloneAdmin), galeraNode1: await settingsOf(galeraAdmin) };
  const standalonePid = await mariadbPidOf(standaloneAdmin);
  log(
    `standalone ${hostOf(config.mysqlUrl)}: MariaDB ${String(servers.standalone.version)}, buffer pool ${mib(Number(servers.standalone.innodb_buffer_pool_size))}; ` +
      `Galera ${clusterUrls.map(hostOf).join(', ')}: wsrep_cluster_size=${clusterUrls.length}, buffer pool ${mib(Number(servers.galeraNode1.innodb_buffer_pool_size))} each; ` +
      `innodb_flush_log_at_trx_commit ${String(servers.standalone.innodb_flush_log_at_trx_commit)} / ${String(servers.galeraNode1.innodb_flush_log_at_trx_commit)}`,
  );
  if (standalonePid === undefined || (await clusterSnapshot(nodes)).pids.includes(undefined))
    log('note: could not read the pid of every mariadbd (@@pid_file): the MariaDB CPU column will be empty');

  const sides: Side[] = [
    {
      key: 'A',
      name: `1 instance, standalone ${hostOf(config.mysqlUrl)}`,
      harness: standalone,
      servers: [config.mysqlUrl],
      db: 'standalone',
      build: standalone.serviceBuild('cluster-A', standalone.service.dist),
    },
    {
      key: 'B',
      name: `1 instance, Galera ${hostOf(clusterUrls[0])}`,
      harness: galera,
      servers: [clusterUrls[0]],
      db: 'galera',
      build: standalone.serviceBuild('cluster-B', standalone.service.dist),
    },
    {
      key: 'C',
      name: `${clusterUrls.length} instances, one per Galera node`,
      harness: galera,
      servers: clusterUrls,
      db: 'galera',
      build: standalone.serviceBuild('cluster-C', standalone.service.dist),
    },
  ];
  const sideOf = (key: SideKey): Side => sides.find((s) => s.key === key) as Side;

  /** Starts the side's instances at once; if one fails, stops the others. */
  const startSide = async (side: Side): Promise<RunningServer[]> => {
    const started = await Promise.allSettled(
      side.servers.map((server) => side.harness.start(side.build, config.dbName, [], instanceEnv(server))),
    );
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    const up = started.filter((s): s is PromiseFulfilledResult<RunningServer> => s.status === 'fulfilled').map((s) => s.value);
    if (failed !== undefined) {
      await Promise.all(up.map((server) => side.harness.stop(server)));
      throw failed.reason;
    }
    return up;
  };

  let created = false;
  cleanUp = once(async () => {
    await standalone.stopAll();
    await galera.stopAll();
    if (created) {
      // On Galera, dropped on node 1: the drop replicates.
      await standalone.dropDatabases(config.dbName);
      await galera.dropDatabases(config.dbName);
      log(`dropped ${config.dbName} on ${hostOf(config.mysqlUrl)} and on the cluster`);
      const keys = await dropRedisKeys(redisPrefix);
      if (keys > 0) log(`deleted ${keys} Redis keys under ${redisPrefix}`);
    }
    await galera.close();
    await standalone.close();
  });

  const result: Record<string, unknown> = {
    startedAt: new Date().toISOString(),
    node: process.version,
    config: { ...config, scenarios: workloads, clusterUrls, redisUrl, redisPrefix },
    servers,
    sides: sides.map(({ key, name, servers: on }) => ({ key, name, instances: on.map(hostOf) })),
  };
  const tokens = new TokenBook(standalone.secrets.jwtSecret);
  const records: ClusterRecord[] = [];
  try {
    created = true;
    await standalone.prepareDatabase(config.dbName, config.tenants, `standalone ${hostOf(config.mysqlUrl)}`);
    await galera.prepareDatabase(config.dbName, config.tenants, `Galera (created on ${hostOf(clusterUrls[0])})`);

    // Every node must hold the whole seed (wsrep_sync_wait: the read waits for what the cluster committed before it).
    for (const url of clusterUrls) {
      const connection = await createConnection({ uri: url, connectTimeout: 2000 });
      try {
        await connection.query('SET SESSION wsrep_sync_wait = 1');
        const [rows] = await connection.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${config.dbName}\`.integrations`);
        const n = Number(rows[0].n);
        if (n !== config.tenants * INTEGRATION_PLAN.length)
          throw new Error(`${hostOf(url)} holds ${n} integrations of ${config.dbName}, not ${config.tenants * INTEGRATION_PLAN.length}`);
      } finally {
        await connection.end();
      }
    }
    log(`every Galera node holds the ${fmt(config.tenants * INTEGRATION_PLAN.length)} seeded integrations`);

    // The seeded answers, through A's instance and through an instance on the last Galera node (so, replicated data).
    const failures: string[] = [];
    for (const [harness, server] of [
      [standalone, config.mysqlUrl],
      [galera, clusterUrls[clusterUrls.length - 1]],
    ] as const) {
      const instance = await harness.start(harness.service, config.dbName, [], instanceEnv(server));
      try {
        await checkAnswers(instance, tokens, config.tenants, failures);
      } finally {
        await harness.stop(instance);
      }
    }
    if (failures.length > 0) throw new Error(`the service does not answer the seeded data:\n  ${failures.join('\n  ')}`);
    log(
      `both databases answer the seed (through ${hostOf(config.mysqlUrl)} and ${hostOf(clusterUrls[clusterUrls.length - 1])}): secrets, list, masking, replace echo, 403, 404`,
    );

    for (const workload of workloads) {
      log(`workload ${workload}: ${SCENARIO_NAMES[workload]} on ${fmt(config.tenants)} tenants`);
      const requests = scenarioRequests(workload, config.tenants, tokens);
      for (let round = 1; round <= config.rounds; round++) {
        // A B C, then B C A, …: no side always goes first, or always follows the same one.
        const order = SIDE_KEYS.map((_, i) => SIDE_KEYS[(i + round - 1) % SIDE_KEYS.length]);
        for (const key of order) {
          const side = sideOf(key);
          let record: ClusterRecord | undefined;
          try {
            const before = await clusterSnapshot(nodes);
            // The MariaDB CPU of a Galera side is that of every node; none when a node is missing.
            const nodePids = before.pids.filter((pid): pid is number => pid !== undefined);
            const dbPids = side.db === 'standalone' ? [standalonePid] : nodePids.length === clusterUrls.length ? nodePids : [undefined];
            const { probed: _, ...turn } = await measureTurn(
              () => startSide(side),
              (server) => side.harness.stop(server),
              {
                requests,
                // Each instance of a group gets about the warm-up a single one gets: with 2 s shared by three, C was
                // measured while still compiling (README, "Scenario: cluster").
                warmup: config.warmup * side.servers.length,
                duration: config.duration,
                connections: config.connections,
                dbPid: dbPids.every((pid) => pid !== undefined) ? dbPids : undefined,
                logFile: side.build.logFile,
              },
            );
            const after = await clusterSnapshot(nodes);
            const whole = (snapshot: ClusterSnapshot): boolean => snapshot.sizes.every((size) => size === String(clusterUrls.length));
            const clusterChanged =
              before.pids.join() !== after.pids.join() || !whole(before) || !whole(after)
                ? `Galera node pids ${before.pids.join(',')} -> ${after.pids.join(',')}, wsrep_cluster_size ${before.sizes.join(',')} -> ${after.sizes.join(',')}`
                : undefined;
            const galeraConflicts = after.conflicts - before.conflicts;
            record = { workload, side: key, round, ...turn, galeraConflicts, clusterChanged };
            records.push(record);
            log(
              turnLine(
                `[${workload}] round ${round} ${key}`,
                turn,
                turnFailures(turn, onlyStatus(workload)),
                (side.db === 'galera' ? `  [Galera conflicts ${fmt(galeraConflicts)}]` : '') +
                  (clusterChanged === undefined ? '' : `  [CLUSTER CHANGED: ${clusterChanged}]`),
              ),
            );
          } finally {
            // Each turn starts from the seed.
            if (workload === 5) {
              const [deleted] = await side.harness.db.query<ResultSetHeader>(
                `DELETE FROM \`${config.dbName}\`.integrations WHERE id LIKE ?`,
                [`${CREATED_ID_PREFIX}%`],
              );
              if (record !== undefined) record.createdRows = deleted.affectedRows;
            }
          }
        }
      }
    }
  } finally {
    await cleanUp();
  }

  // ---------------------------------------------------------------- report
  const of = (workload: Workload, key: SideKey): ClusterRecord[] => records.filter((r) => r.workload === workload && r.side === key);
  const summaries = workloads.map((workload) => {
    const side = (
      key: SideKey,
    ): SideSummary & { non2xx: number; status5xx: number; socketErrors: number; requests: number; galeraConflicts: number } => {
      const mine = of(workload, key);
      const both = mine.flatMap((r) => [r.stats, r.warmup]);
      return {
        ...summarizeTurns(mine, onlyStatus(workload)),
        non2xx: both.reduce((sum, s) => sum + (s?.non2xx ?? 0), 0),
        status5xx: both.reduce((sum, s) => sum + count(s, (code) => code.startsWith('5')), 0),
        socketErrors: both.reduce((sum, s) => sum + (s?.errors ?? 0), 0),
        requests: both.reduce((sum, s) => sum + (s?.total ?? 0), 0),
        galeraConflicts: mine.reduce((sum, r) => sum + r.galeraConflicts, 0),
      };
    };
    return { workload, name: SCENARIO_NAMES[workload], A: side('A'), B: side('B'), C: side('C') };
  });
  const rows: string[][] = [
    [
      'workload',
      'side',
      'req/s',
      'p50 ms',
      'p99 ms',
      'non-2xx',
      '5xx',
      'socket errors',
      'service CPU/req us',
      'MariaDB CPU/req us',
      'Galera conflicts',
    ],
  ];
  for (const s of summaries) {
    for (const key of SIDE_KEYS) {
      const x = s[key];
      rows.push([
        key === 'A' ? `${s.workload}. ${s.name}` : '',
        `${key}. ${sideOf(key).name}`,
        fmt(x.requestsPerSec),
        fmt(x.p50, 1),
        fmt(x.p99, 1),
        fmt(x.non2xx),
        fmt(x.status5xx),
        fmt(x.socketErrors),
        fmt(x.serverCpuUsPerRequest),
        fmt(x.dbCpuUsPerRequest),
        sideOf(key).db === 'galera' ? fmt(x.galeraConflicts) : '-',
      ]);
    }
  }
  const ratios: string[][] = [['workload', 'req/s B/A', 'req/s C/A', 'req/s C/B', 'p99 B/A', 'p99 C/A', 'p99 C/B']];
  for (const s of summaries) {
    ratios.push([
      `${s.workload}. ${s.name}`,
      ratio(s.B.requestsPerSec, s.A.requestsPerSec).toFixed(2),
      ratio(s.C.requestsPerSec, s.A.requestsPerSec).toFixed(2),
      ratio(s.C.requestsPerSec, s.B.requestsPerSec).toFixed(2),
      ratio(s.B.p99, s.A.p99).toFixed(2),
      ratio(s.C.p99, s.A.p99).toFixed(2),
      ratio(s.C.p99, s.B.p99).toFixed(2),
    ]);
  }
  const lines = ['', table(rows), '', table(ratios), ''];
  for (const s of summaries)
    lines.push(
      `  ${s.workload}. req/s per round: ${SIDE_KEYS.map((key) => `${key} ${s[key].rounds.map((n) => fmt(n)).join(' / ')}`).join('; ')}`,
    );
  const creates = records.filter((r) => r.createdRows !== undefined);
  if (creates.length > 0)
    lines.push(
      `  5. rows created per turn (warm-up included, deleted after it): ${SIDE_KEYS.map(
        (key) =>
          `${key} ${creates
            .filter((r) => r.side === key)
            .map((r) => fmt(r.createdRows ?? 0))
            .join(' / ')}`,
      ).join('; ')}`,
    );
  const peak = (key: SideKey): string => mib(Math.max(0, ...records.filter((r) => r.side === key).map((r) => r.peakRssBytes)));
  const startMs = (key: SideKey): string => fmt(Math.max(0, ...records.filter((r) => r.side === key).map((r) => r.startMs)));
  lines.push(
    `  peak RSS of one instance: ${SIDE_KEYS.map((key) => `${key} ${peak(key)}`).join(', ')}; slowest start to ready: ${SIDE_KEYS.map((key) => `${key} ${startMs(key)} ms`).join(', ')}`,
  );
  lines.push(
    `  counts (non-2xx, 5xx, socket errors, Galera conflicts) cover every request of a side, warm-ups included; service CPU/req is of all its instances together, ` +
      `MariaDB CPU/req of the standalone mariadbd (A) or of all ${clusterUrls.length} Galera nodes (B, C: every node applies every write); ` +
      `Galera conflicts: certification failures + brute-force aborts on all nodes (transactions that lost to another node's and were retried)`,
  );
  const loads = records.map((r) => r.loadBefore);
  lines.push(
    `  ${config.connections} connections (C: ${config.connections / clusterUrls.length} per instance); ${config.rounds} rounds x ${config.duration} s per side, ` +
      `${config.warmup} s warm-up before each (C: ${config.warmup * clusterUrls.length} s, as much per instance), a fresh process per instance per turn; REDIS_URL set on every side; load average before turns ${Math.min(...loads)}..${Math.max(...loads)}`,
  );
  lines.push(
    '  all on one 2-core machine: autocannon, the service processes and every mariadbd share the same 2 cores, so C cannot show ' +
      'what 3 machines would give; its figures are what the cluster costs here, and the counts are what it got right or wrong',
  );
  const changed = records.filter((r) => r.clusterChanged !== undefined);
  if (changed.length > 0)
    lines.push(
      `  WARNING: the Galera cluster changed (a node restarted or left; not this bench's doing) around ${changed.length} turn(s): ` +
        `${changed.map((r) => `[${r.workload}] round ${r.round} ${r.side}`).join(', ')}; their figures are not comparable`,
    );
  const file = join(config.resultsDir, `${standalone.stamp}-cluster.json`);
  writeFileSync(file, JSON.stringify({ ...result, finishedAt: new Date().toISOString(), summaries, records }, null, 2));
  lines.push(
    `  raw results: bench/results/${basename(file)}; the instances' output: bench/results/${standalone.stamp}-cluster-{A,B,C}.log`,
  );
  const failed = records.reduce(
    (sum, r) => sum + failedOf(r.stats, onlyStatus(r.workload)) + failedOf(r.warmup, onlyStatus(r.workload)),
    0,
  );
  if (failed > 0) lines.push(`  FAILED: ${failed} requests answered non-2xx (in workload 5: not 201) or errored`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return failed > 0 ? 1 : 0;
}

runBench('bench:cluster', main, () => cleanUp(), log);
