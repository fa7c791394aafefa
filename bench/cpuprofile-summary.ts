/**
 * Summarizes a V8 .cpuprofile (node --cpu-prof): self time by function and by
 * package, and inclusive time of the frames that own the most work.
 *
 *   npx ts-node --transpile-only bench/cpuprofile-summary.ts FILE.cpuprofile [--top 30] [--from US --to US]
 *
 * --from/--to keep only the samples in that window (microseconds on the
 * monotonic clock, i.e. process.hrtime.bigint() / 1000n), e.g. the measured
 * load without start-up and warm-up.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SummaryOptions {
  top?: number;
  fromUs?: number;
  toUs?: number;
}

/** Where a frame's code lives: a package, a node: module, the service's own code, or V8 itself. */
export function categoryOf(frame: CallFrame): string {
  const url = frame.url;
  if (url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native/V8 builtins)';
  if (url.startsWith('node:'))
    return url
      .replace(/^node:(internal\/)?/, 'node:')
      .split('/')
      .slice(0, 2)
      .join('/');
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return `service: ${url.slice(dist + 1).replace(/\.js$/, '')}`;
  return url.replace(/^file:\/\//, '');
}

function frameKey(frame: CallFrame): string {
  const where = frame.url === '' ? '' : ` ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
  return `${frame.functionName || '(anonymous)'}${where}`;
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  const baseline = url.indexOf('/.baseline-build/');
  if (baseline >= 0) return url.slice(baseline + 1);
  return url.replace(/^file:\/\//, '');
}

const pct = (part: number, total: number): string => `${((part / total) * 100).toFixed(1).padStart(5)}%`;

export function summarizeProfile(file: string, options: SummaryOptions = {}): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const top = options.top ?? 30;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const self = new Map<string, number>();
  const selfByCategory = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    if (options.fromUs !== undefined && t < options.fromUs) continue;
    if (options.toUs !== undefined && t > options.toUs) continue;
    // The time until the next sample is this sample's weight.
    const weight = i + 1 < profile.timeDeltas.length ? profile.timeDeltas[i + 1] : 0;
    const node = byId.get(profile.samples[i]);
    if (node === undefined) continue;
    if (node.callFrame.functionName === '(idle)') {
      idle += weight;
      continue;
    }
    total += weight;
    const key = frameKey(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + weight);
    const category = categoryOf(node.callFrame);
    selfByCategory.set(category, (selfByCategory.get(category) ?? 0) + weight);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = (byId.get(id) as ProfileNode).callFrame;
      if (frame.functionName === '(root)') continue;
      const k = frameKey(frame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + weight);
    }
  }
  if (total === 0) return `${file}: no samples in the window`;
  const sorted = (m: Map<string, number>, n: number): [string, number][] => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
  const out: string[] = [];
  out.push(`CPU profile ${file}`);
  out.push(
    `  busy ${(total / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s (${pct(total, total + idle).trim()} busy) in the window`,
  );
  out.push('');
  out.push(`Self time by package / module (of busy time):`);
  for (const [category, us] of sorted(selfByCategory, 25)) out.push(`  ${pct(us, total)}  ${category}`);
  out.push('');
  out.push(`Top ${top} functions by self time:`);
  for (const [key, us] of sorted(self, top)) out.push(`  ${pct(us, total)}  ${key}`);
  out.push('');
  out.push(`Top ${top} frames by inclusive time (self + callees), service code and packages:`);
  const interesting = new Map(
    [...inclusive.entries()].filter(
      ([k]) => /dist\/|\.baseline-build\/|node_modules|^\w[^ ]* node:/.test(k) && !/processTicksAndRejections|listOnTimeout/.test(k),
    ),
  );
  for (const [key, us] of sorted(interesting, top * 2)) out.push(`  ${pct(us, total)}  ${key}`);
  return out.join('\n');
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
  const option = (name: string): number | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  if (file === undefined) {
    process.stderr.write('usage: ts-node --transpile-only bench/cpuprofile-summary.ts FILE.cpuprofile [--top N] [--from US --to US]\n');
    process.exit(2);
  }
  process.stdout.write(`${summarizeProfile(file, { top: option('--top'), fromUs: option('--from'), toUs: option('--to') })}\n`);
}
