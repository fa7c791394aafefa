/**
 * CPU time per request of each thread of the server, for the service and the
 * baseline under one scenario (BENCH_PROFILE_SCENARIO=1|2|3|5, default 3):
 *
 *   npx ts-node --transpile-only bench/cpu-by-thread.ts
 *
 * A --cpu-prof profile only samples the main JavaScript thread; this shows what
 * it leaves out: V8's garbage-collector and compiler threads and libuv's pool
 * (crypto, DNS). It reads user + system time of every thread in
 * /proc/<pid>/task before and after a measured load, so it is Linux only.
 * BENCH_DURATION (10), BENCH_WARMUP, BENCH_TENANTS, BENCH_KEEP_DB as for the bench.
 */
import 'reflect-metadata';
import { readdirSync, readFileSync } from 'node:fs';
import { loadBenchConfig } from './config';
import { fmt, Harness, log, type Side } from './harness';
import { runLoad, scenarioRequests, TokenBook } from './load';

/** Clock ticks per second of /proc stat times; 100 on every Linux this runs on. */
const TICKS_PER_SECOND = 100;

/** CPU milliseconds used so far by each thread of a process, keyed "name#tid" ("name#main" for the main thread). */
function cpuMsByThread(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended between the listing and the read
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    // Fields after the ")": state is [0], utime [11], stime [12] (proc(5) numbers them 14 and 15).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    out.set(`${name}#${tid === String(pid) ? 'main' : tid}`, (ticks * 1000) / TICKS_PER_SECOND);
  }
  return out;
}

const config = loadBenchConfig();
const harness = new Harness(config);
const scenario = Number(process.env.BENCH_PROFILE_SCENARIO ?? 3) as 1 | 2 | 3 | 5;
if (![1, 2, 3, 5].includes(scenario)) throw new Error('BENCH_PROFILE_SCENARIO must be 1, 2, 3 or 5');

async function measure(side: Side, requests: Record<string, unknown>[]): Promise<void> {
  const server = await harness.start(side, config.dbName);
  try {
    if (config.warmup > 0) await runLoad(server.port, requests, config.warmup, config.connections);
    const before = cpuMsByThread(server.pid);
    const stats = await runLoad(server.port, requests, config.duration, config.connections);
    const after = cpuMsByThread(server.pid);
    const served = stats.requestsPerSec * config.duration;
    const perThread = [...after]
      .map(([thread, ms]) => [thread, ((ms - (before.get(thread) ?? 0)) * 1000) / served] as const)
      .filter(([, us]) => us >= 1)
      .sort((a, b) => b[1] - a[1]);
    const total = perThread.reduce((sum, [, us]) => sum + us, 0);
    log(`${side}: ${fmt(stats.requestsPerSec)} req/s, ${fmt(total)} µs CPU per request`);
    for (const [thread, us] of perThread) log(`  ${thread.padEnd(24)} ${fmt(us).padStart(6)} µs`);
  } finally {
    await harness.stop(server);
  }
}

async function main(): Promise<void> {
  harness.build();
  await harness.connectMaria();
  try {
    await harness.prepareDatabase(config.dbName, config.tenants, 'small set');
    const requests = scenarioRequests(scenario, config.tenants, new TokenBook(harness.secrets.jwtSecret));
    for (const side of ['service', 'baseline'] as const) await measure(side, requests);
  } finally {
    if (!config.keepDb) await harness.dropDatabases(config.dbName);
    await harness.close();
  }
}

main().catch(async (error: unknown) => {
  process.stderr.write(`cpu-by-thread failed: ${(error as Error).stack ?? String(error)}\n`);
  await harness.stopAll();
  process.exit(1);
});
