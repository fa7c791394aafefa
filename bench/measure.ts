/**
 * One measured turn, and what the reports make of turns: shared by run.ts (the
 * service against the baseline), its scenarios 6 and 7 (tokens.ts),
 * before-after.ts (the service against an earlier revision of itself), and
 * cluster.ts (one instance against three, each on its own Galera node).
 */
import { statSync } from 'node:fs';
import { fmt, machineLoad, mib } from './harness';
import { runLoad, type LoadStats } from './load';
import { cpuMsOf, type RunningServer } from './servers';

export interface TurnOptions {
  requests: Record<string, unknown>[];
  /** Seconds of warm-up (same load, not recorded); 0 skips it. */
  warmup: number;
  duration: number;
  connections: number;
  /** mariadbd's pid, or the pids of every node of a cluster: their CPU time per request is measured too (summed). */
  dbPid?: number | readonly number[];
  /** The server's log: how much it printed during the measured run. */
  logFile?: string;
}

/** What one turn measured on a fresh server process (or a group of them, loaded together). */
export interface Turn {
  warmup: LoadStats | null;
  stats: LoadStats;
  /** Highest VmHWM of the server process (bytes); of a group, the highest of its processes. */
  peakRssBytes: number;
  /** Milliseconds from spawn to ready; of a group, the slowest. */
  startMs: number;
  /** Load average of the machine before the turn. */
  loadBefore: number;
  /** CPU time of the server process (user + system) per completed request during the measured run; of a group, of all its processes. */
  serverCpuUsPerRequest: number | null;
  /** The same for mariadbd, all nodes of a cluster together (other work on the machine may share them). */
  dbCpuUsPerRequest: number | null;
  /** What the server printed during the measured run. */
  loggedBytes: number;
}

/**
 * Something a caller reads around a turn: called on the started server (the
 * first of a group) before the warm-up, it returns what to call after the
 * measured run, before the stop.
 */
export type Probe<X> = (server: RunningServer) => Promise<(turn: Turn) => Promise<X>>;

function fileSize(path: string | undefined): number {
  if (path === undefined) return 0;
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** CPU milliseconds of several processes together; undefined when one of them is gone. */
function cpuMsOfAll(pids: readonly number[]): number | undefined {
  let sum = 0;
  for (const pid of pids) {
    const ms = cpuMsOf(pid);
    if (ms === undefined) return undefined;
    sum += ms;
  }
  return sum;
}

/**
 * Starts a server, warms it up, measures it, and stops it (also when something
 * fails). `start` may start a group (several instances of one deployment): the
 * load is then spread over all of them (runLoad) and each is stopped.
 */
export async function measureTurn<X = undefined>(
  start: () => Promise<RunningServer | RunningServer[]>,
  stop: (server: RunningServer) => Promise<void>,
  options: TurnOptions,
  probe?: Probe<X>,
): Promise<Turn & { probed?: X }> {
  const servers = [await start()].flat();
  try {
    const ports = servers.map((s) => s.port);
    const finish = probe === undefined ? undefined : await probe(servers[0]);
    const loadBefore = machineLoad();
    const warmup = options.warmup > 0 ? await runLoad(ports, options.requests, options.warmup, options.connections) : null;
    const logBytes0 = fileSize(options.logFile);
    const dbPids = options.dbPid === undefined ? undefined : [options.dbPid].flat();
    const cpuOf = (): (number | undefined)[] => [
      cpuMsOfAll(servers.map((s) => s.pid)),
      dbPids === undefined ? undefined : cpuMsOfAll(dbPids),
    ];
    const cpu0 = cpuOf();
    const stats = await runLoad(ports, options.requests, options.duration, options.connections);
    const cpu1 = cpuOf();
    const perRequest = (i: number): number | null => {
      const [a, b] = [cpu0[i], cpu1[i]];
      return a === undefined || b === undefined || stats.total === 0 ? null : ((b - a) * 1000) / stats.total;
    };
    const turn: Turn = {
      warmup,
      stats,
      peakRssBytes: Math.max(...servers.map((s) => s.peakRss())),
      startMs: Math.max(...servers.map((s) => s.startMs)),
      loadBefore,
      serverCpuUsPerRequest: perRequest(0),
      dbCpuUsPerRequest: perRequest(1),
      loggedBytes: fileSize(options.logFile) - logBytes0,
    };
    return { ...turn, probed: finish === undefined ? undefined : await finish(turn) };
  } finally {
    await Promise.all(servers.map((server) => stop(server)));
  }
}

/** Non-2xx answers and socket errors; with `only`, also every 2xx other than that status (e.g. '201' where every id is new). */
export function failedOf(stats: LoadStats | null, only?: string): number {
  if (stats === null) return 0;
  const otherSuccess =
    only === undefined
      ? 0
      : Object.entries(stats.statusCodes).reduce((sum, [code, n]) => sum + (code !== only && code.startsWith('2') ? n : 0), 0);
  return stats.non2xx + stats.errors + otherSuccess;
}

/** A turn's failures, warm-up included. */
export function turnFailures(turn: Turn, only?: string): number {
  return failedOf(turn.stats, only) + failedOf(turn.warmup, only);
}

/** The progress line of one turn; `extra` is appended. */
export function turnLine(label: string, turn: Turn, failed: number, extra = ''): string {
  const { stats } = turn;
  const db = turn.dbCpuUsPerRequest === null ? '' : ` (MariaDB ${fmt(turn.dbCpuUsPerRequest)} us)`;
  const note = turn.loggedBytes > 64 * 1024 ? `  [printed ${fmt(turn.loggedBytes / 1024)} KB while measured: see its log]` : '';
  return (
    `  ${label} ${fmt(stats.requestsPerSec).padStart(7)} req/s  p50 ${stats.p50} ms  p99 ${stats.p99} ms  ` +
    `CPU/req ${fmt(turn.serverCpuUsPerRequest ?? NaN)} us${db}  peak RSS ${mib(turn.peakRssBytes)}` +
    (failed > 0 ? `  FAILED ${failed}: ${JSON.stringify(stats.statusCodes)}, ${stats.errors} errors` : '') +
    extra +
    note
  );
}

/** One side of a comparison over its turns: means, except the peak RSS (the highest) and failures (the sum). */
export interface SideSummary {
  requestsPerSec: number;
  p50: number;
  p99: number;
  /** req/s of each round. */
  rounds: number[];
  peakRssBytes: number;
  failed: number;
  serverCpuUsPerRequest: number;
  dbCpuUsPerRequest: number;
}

export function summarizeTurns(turns: Turn[], only?: string): SideSummary {
  const mean = (pick: (t: Turn) => number): number => turns.reduce((sum, t) => sum + pick(t), 0) / Math.max(1, turns.length);
  return {
    requestsPerSec: mean((t) => t.stats.requestsPerSec),
    p50: mean((t) => t.stats.p50),
    p99: mean((t) => t.stats.p99),
    rounds: turns.map((t) => Math.round(t.stats.requestsPerSec)),
    peakRssBytes: Math.max(0, ...turns.map((t) => t.peakRssBytes)),
    failed: turns.reduce((sum, t) => sum + turnFailures(t, only), 0),
    serverCpuUsPerRequest: mean((t) => t.serverCpuUsPerRequest ?? NaN),
    dbCpuUsPerRequest: mean((t) => t.dbCpuUsPerRequest ?? NaN),
  };
}

/** `a / b`, or NaN when b is not positive. */
export function ratio(a: number, b: number): number {
  return b > 0 ? a / b : NaN;
}

/** A Markdown table: the first row is the header, the first column left-aligned, the rest right-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]): string =>
    `| ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (c === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join('\n');
}

/** Runs a bench's main: exit code from it, 2 when it throws; SIGINT/SIGTERM clean up first (a second one quits at once). */
export function runBench(name: string, main: () => Promise<number>, cleanUp: () => Promise<void>, log: (line: string) => void): void {
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
      // After a signal, what fails is what the clean-up stopped: the signal handler exits.
      if (stopping) return;
      process.stderr.write(`${name} failed: ${(error as Error).stack ?? String(error)}\n`);
      void cleanUp().finally(() => process.exit(2));
    },
  );
}

/** `work` run at most once; later calls get the same promise. */
export function once(work: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= work());
}
