import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** One GET on loopback; resolves with the status (0 when nothing answers). */
export function httpStatus(port: number, path: string, timeoutMs = 1000): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function httpCall(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 5 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Peak (VmHWM) and current (VmRSS) resident set of a process, bytes; undefined once it is gone. */
export function memoryOf(pid: number): { peak: number; current: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { peak: kb('VmHWM'), current: kb('VmRSS') };
  } catch {
    return undefined;
  }
}

export interface RunningServer {
  name: string;
  port: number;
  pid: number;
  child: ChildProcess;
  /** Milliseconds from spawn to the first 200 on the ready path. */
  startMs: number;
  /** Highest VmHWM seen so far (bytes). */
  peakRss(): number;
  stop(): Promise<void>;
}

export interface StartOptions {
  name: string;
  /** Arguments to `node`, after SERVER_V8_FLAGS. */
  args: string[];
  env: NodeJS.ProcessEnv;
  port: number;
  readyPath: string;
  cwd: string;
  /** File that receives the process's stdout and stderr. */
  logFile: string;
  timeoutMs?: number;
}

/**
 * The V8 flags of `npm start` and the Dockerfile's CMD, given to every server
 * the bench starts, service and baseline alike, so both manage memory the same
 * way (bench/README.md, "Memory", says why).
 */
export const SERVER_V8_FLAGS = ['--no-allocation-site-pretenuring', '--heap-growing-percent=50'];

/** Spawns `node SERVER_V8_FLAGS ARGS` and waits until readyPath answers 200 (polled every 10 ms). */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const log = createWriteStream(options.logFile, { flags: 'a' });
  await new Promise((resolve) => log.once('open', resolve));
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...SERVER_V8_FLAGS, ...options.args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', log, log],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${options.name}: could not spawn node`);
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = signal ?? `exit code ${code}`));
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (exited !== undefined) throw new Error(`${options.name} stopped before it was ready (${exited}); see ${options.logFile}`);
    if ((await httpStatus(options.port, options.readyPath, 500)) === 200) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.name} was not ready within ${(options.timeoutMs ?? 60_000) / 1000} s; see ${options.logFile}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const startMs = Number(process.hrtime.bigint() - started) / 1e6;
  let peak = 0;
  const sample = (): void => {
    const memory = memoryOf(pid);
    if (memory !== undefined) peak = Math.max(peak, memory.peak, memory.current);
  };
  const poller = setInterval(sample, 250);
  poller.unref();
  return {
    name: options.name,
    port: options.port,
    pid,
    child,
    startMs,
    peakRss: () => {
      sample();
      return peak;
    },
    stop: async () => {
      sample();
      clearInterval(poller);
      if (exited === undefined) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(timer);
      }
      log.end();
    },
  };
}

let clockTicks: number | undefined;

/** CPU time (user + system) a process has used so far, in milliseconds; undefined once it is gone. */
export function cpuMsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  } catch {
    return undefined;
  }
}

/** The pid of the first process whose command name is one of `names` (e.g. mariadbd). */
export function pidOf(...names: string[]): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (names.includes(readFileSync(`/proc/${entry}/comm`, 'utf8').trim())) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}
