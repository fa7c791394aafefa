import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Starts the real entry point with only the given environment and returns how it ended. */
async function start(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, ['-r', require.resolve('ts-node/register/transpile-only'), join(__dirname, '../src/main.ts')], {
      env: { PATH: process.env.PATH ?? '', TS_NODE_PROJECT: join(__dirname, '../tsconfig.json'), DATA_DIR: mkdtempSync(join(tmpdir(), 'startup-')), ...env },
      cwd: mkdtempSync(join(tmpdir(), 'startup-cwd-')),
      timeout: 60_000,
    });
    return { code: 0, stderr: '' };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, stderr: failed.stderr };
  }
}

describe('Start-up configuration checks', () => {
  it('refuses to start in production with nothing configured, naming every missing setting in one line', async () => {
    const { code, stderr } = await start({ NODE_ENV: 'production' });
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(
      'Configuration error: NODE_ENV=production needs these settings, which are missing: DATABASE_URL, JWT_SECRET (or JWT_PUBLIC_KEY or JWT_JWKS_URL), ENCRYPTION_KEYS',
    );
  });
});
