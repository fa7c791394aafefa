import { Inject, Injectable } from '@nestjs/common';
import { AuditVerifier, type ChainCheck } from '../audit/audit-verifier';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { describeDatabase } from '../config/database.config';
import { createProgressReporter } from '../crypto/progress-reporter';

/** What `audit:verify` exits with: intact, an error (database, options), or a chain broken. */
export const AUDIT_VERIFY_EXIT = { intact: 0, error: 1, broken: 2 } as const;

/**
 * `audit:verify [--tenant t] [--json]`: walks each chain (or one) and names
 * the first broken link of each. A progress bar on a terminal; JSON on stdout
 * when stdout is not a terminal, or with --json. Exit 0 intact, 2 broken.
 */
@Injectable()
export class AuditVerifyCommand {
  constructor(
    private readonly verifier: AuditVerifier,
    @Inject(CONFIGURATION) private readonly config: Configuration,
  ) {}

  async verify(options: { tenant?: string; json: boolean; batchSize: number }): Promise<number> {
    const json = options.json || !process.stdout.isTTY;
    if (!json) process.stderr.write(`Database: ${describeDatabase(this.config.database)}\n`);
    const reporter = process.stderr.isTTY ? createProgressReporter('Verifying') : undefined;
    const check = await this.verifier.verify({ tenant: options.tenant, batchSize: options.batchSize }, (progress) =>
      reporter?.update(progress),
    );
    reporter?.finish();
    if (check === null) {
      const message = `no audit trail for tenant '${options.tenant}': it has no events and no anchor`;
      if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: message })}\n`);
      else process.stderr.write(`${message}\n`);
      return AUDIT_VERIFY_EXIT.error;
    }
    process.stdout.write(json ? `${JSON.stringify(check)}\n` : describe(check));
    return check.ok ? AUDIT_VERIFY_EXIT.intact : AUDIT_VERIFY_EXIT.broken;
  }
}

function describe(check: ChainCheck): string {
  const counted = `${check.chains} chain${check.chains === 1 ? '' : 's'}, ${check.events} event${check.events === 1 ? '' : 's'}`;
  if (check.ok) return `Audit trail intact: ${counted} checked.\n`;
  const lines = [`Audit trail BROKEN in ${check.problems.length} of ${counted} checked:`];
  for (const p of check.problems) lines.push(`  tenant '${p.tenant}', seq ${p.seq} (${p.problem}): ${p.message}`);
  return `${lines.join('\n')}\n`;
}
