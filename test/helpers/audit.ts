import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { adminToken, type TestApp } from './test-app';

const run = promisify(execFile);

/** An audit_events row as the database holds it (times and numbers normalised across engines). */
export interface AuditRow {
  tenant_id: string;
  seq: number;
  /** ISO 8601, as the API shows it. */
  occurred_at: string;
  actor_sub: string;
  action: string;
  target: string;
  outcome: number;
  request_id: string | null;
  client_address: string | null;
  user_agent: string | null;
  prev_hash: string;
  hash: string;
}

/** A chain's rows straight from the table, in seq order. */
export async function auditRows(t: TestApp, tenant: string): Promise<AuditRow[]> {
  const rows = await t.db.query<Omit<AuditRow, 'occurred_at'> & { occurred_at: Date | string }>(
    'SELECT * FROM audit_events WHERE tenant_id = ? ORDER BY seq',
    [tenant],
  );
  // mysql2 gives a Date (the connection is UTC), SQLite the UTC text TypeORM stored.
  const iso = (value: Date | string): string => (value instanceof Date ? value : new Date(`${value.replace(' ', 'T')}Z`)).toISOString();
  return rows.map((row) => ({ ...row, seq: Number(row.seq), outcome: Number(row.outcome), occurred_at: iso(row.occurred_at) }));
}

/** The DATABASE_URL a child process needs to open the test app's database. */
export function databaseUrlOf(t: TestApp): string {
  return t.config.database.kind === 'sqlite' ? `sqlite:${t.config.database.path}` : t.config.database.url;
}

export interface CliRun {
  stdout: string;
  stderr: string;
  code: number;
}

/** An operator command on the test app's database, run as a user would (through ts-node, so no build is needed). */
export async function cli(t: TestApp, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const full = {
    ...process.env,
    DATABASE_URL: databaseUrlOf(t),
    ENCRYPTION_KEYS: t.config.crypto.ring.keys.map((key) => `${key.id}:${key.key.toString('base64')}`).join(','),
    JWT_SECRET: 'cli-test-secret-that-is-32-bytes-long',
    DATA_DIR: t.config.app.dataDir,
    LOG_LEVEL: 'silent',
    ...env,
  };
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', join(__dirname, '../../src/cli.ts'), ...args],
      {
        env: full,
        timeout: 120_000,
      },
    );
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout: string; stderr: string; code: number };
    return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
  }
}

export interface VerifyReport {
  ok: boolean;
  chains: number;
  events: number;
  problems: { tenant: string; seq: number; problem: string; message: string }[];
}

/** `audit:verify` with its JSON output parsed (stdout is a pipe here, so JSON is what it prints). */
export async function auditVerify(t: TestApp, args: string[] = []): Promise<CliRun & { report: VerifyReport }> {
  const result = await cli(t, ['audit:verify', ...args]);
  let report: VerifyReport;
  try {
    report = JSON.parse(result.stdout) as VerifyReport;
  } catch {
    throw new Error(`audit:verify printed no JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`);
  }
  return { ...result, report };
}

/** Renames tenant `tenant` (as a platform admin) to `${prefix}${i}` for i = from..to, each answered 200: events for a trail. */
export async function renameTenant(t: TestApp, tenant: string, from: number, to: number, prefix = 'N'): Promise<void> {
  const admin = ['Authorization', `Bearer ${adminToken()}`] as const;
  for (let i = from; i <= to; i++) {
    const answer = await t
      .http()
      .patch(`/tenants/${tenant}`)
      .set(...admin)
      .send({ name: `${prefix}${i}` });
    expect(answer.status).toBe(200);
  }
}
