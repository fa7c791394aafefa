/**
 * CPU profile of a server under scenario 1 (GET one with a revealing token,
 * random tenants and ids), or BENCH_PROFILE_SCENARIO=2|3|5 (list, POST replace, POST create):
 * seeds like `npm run bench`, starts the service with
 * `node --cpu-prof`, warms it up, loads it, stops it, and summarizes the samples
 * of the measured window only (start-up and warm-up left out).
 *
 *   npx ts-node --transpile-only bench/profile.ts
 *
 * BENCH_PROFILE_SIDES=service,baseline profiles the baseline too;
 * BENCH_DURATION (15), BENCH_WARMUP, BENCH_TENANTS, BENCH_KEEP_DB as for the bench.
 * Profiles go to bench/results/profiles/.
 */
import 'reflect-metadata';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadBenchConfig } from './config';
import { summarizeProfile } from './cpuprofile-summary';
import { fmt, Harness, log, type Side } from './harness';
import { runLoad, scenarioRequests, TokenBook } from './load';

const config = loadBenchConfig();
if (process.env.BENCH_DURATION === undefined) config.duration = 15;
const harness = new Harness(config);
const scenario = Number(process.env.BENCH_PROFILE_SCENARIO ?? 1) as 1 | 2 | 3 | 5;
if (![1, 2, 3, 5].includes(scenario)) throw new Error('BENCH_PROFILE_SCENARIO must be 1, 2, 3 or 5');
const sides = (process.env.BENCH_PROFILE_SIDES ?? 'service').split(',').filter((s): s is Side => s === 'service' || s === 'baseline');

async function main(): Promise<void> {
  harness.build();
  await harness.connectMaria();
  const dir = join(config.resultsDir, 'profiles');
  mkdirSync(dir, { recursive: true });
  try {
    await harness.prepareDatabase(config.dbName, config.tenants, 'small set');
    const tokens = new TokenBook(harness.secrets.jwtSecret);
    const requests = scenarioRequests(scenario, config.tenants, tokens);
    for (const side of sides) {
      const name = `${harness.stamp}-${side}-s${scenario}.cpuprofile`;
      const server = await harness.start(side, config.dbName, ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}`]);
      let window: { from: number; to: number };
      try {
        if (config.warmup > 0) await runLoad(server.port, requests, config.warmup, config.connections);
        const from = Number(process.hrtime.bigint() / 1000n);
        const stats = await runLoad(server.port, requests, config.duration, config.connections);
        window = { from, to: Number(process.hrtime.bigint() / 1000n) };
        log(
          `${side}: ${fmt(stats.requestsPerSec)} req/s under the profiler, p50 ${stats.p50} ms, p99 ${stats.p99} ms, ${stats.non2xx + stats.errors} failed`,
        );
      } finally {
        // The profile is written when the process exits.
        await harness.stop(server);
      }
      const file = join(dir, readdirSync(dir).find((f) => f === name) ?? name);
      process.stdout.write(`\n${summarizeProfile(file, { top: 35, fromUs: window.from, toUs: window.to })}\n`);
      process.stdout.write(`(window: --from ${window.from} --to ${window.to})\n\n`);
    }
  } finally {
    if (!config.keepDb) await harness.dropDatabases(config.dbName);
    await harness.close();
  }
}

main().catch(async (error: unknown) => {
  process.stderr.write(`profile failed: ${(error as Error).stack ?? String(error)}\n`);
  await harness.stopAll();
  process.exit(1);
});
