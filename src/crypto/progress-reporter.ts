import type { RotationProgress } from './key-management.service';

const BAR_WIDTH = 30;
const PLAIN_INTERVAL_MS = 2000;

/**
 * Progress of a long command on stderr: a redrawn bar with counts, rate and
 * ETA on a terminal; a plain line every two seconds otherwise (CI, pipes, logs).
 */
export function createProgressReporter(label: string, stream: NodeJS.WriteStream = process.stderr): {
  update(progress: RotationProgress): void;
  finish(): void;
} {
  const started = Date.now();
  let lastPlain = 0;
  let last: RotationProgress | undefined;

  const describe = (p: RotationProgress): string => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const rate = p.done / seconds;
    const eta = rate > 0 ? Math.ceil((p.total - p.done) / rate) : 0;
    const percent = p.total === 0 ? 100 : Math.floor((p.done / p.total) * 100);
    return `${label} ${p.done}/${p.total} tenants (${percent}%) · ${rate.toFixed(0)}/s · ETA ${eta}s${p.failed ? ` · ${p.failed} failed` : ''}`;
  };

  return {
    update(progress) {
      last = { ...progress };
      if (stream.isTTY) {
        const filled = progress.total === 0 ? BAR_WIDTH : Math.round((progress.done / progress.total) * BAR_WIDTH);
        stream.write(`\r[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${describe(progress)}\x1b[K`);
      } else if (Date.now() - lastPlain >= PLAIN_INTERVAL_MS || progress.done === progress.total) {
        lastPlain = Date.now();
        stream.write(`${describe(progress)}\n`);
      }
    },
    finish() {
      if (stream.isTTY && last !== undefined) stream.write('\n');
    },
  };
}
