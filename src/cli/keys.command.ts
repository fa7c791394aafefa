import { Inject, Injectable } from '@nestjs/common';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { describeDatabase } from '../config/database.config';
import { KeyManagementService } from '../crypto/key-management.service';
import { createProgressReporter } from '../crypto/progress-reporter';
import { cliActor } from './cli-actor';

/**
 * `keys:status` and `keys:rotate`: the operator's side of the key ring. Results on stdout, progress on stderr.
 * A rotation records an audit event per tenant (and per signing key) as `cli:<user>`.
 */
@Injectable()
export class KeysCommand {
  constructor(
    private readonly keys: KeyManagementService,
    @Inject(CONFIGURATION) private readonly config: Configuration,
  ) {}

  async status(): Promise<number> {
    process.stderr.write(`Database: ${describeDatabase(this.config.database)}\n`);
    const usage = await this.keys.usage();
    const rows = usage.map((u) => [
      u.masterKeyId + (u.active ? ' (active)' : ''),
      u.inRing ? 'yes' : 'NO',
      String(u.tenants),
      String(u.integrations),
      String(u.secrets),
      u.active
        ? 'in use (active)'
        : u.tenants === 0 && u.currentSigningKeys === 0
          ? 'can be removed from ENCRYPTION_KEYS'
          : 'still needed: run keys:rotate',
    ]);
    const header = ['master key', 'in ring', 'tenants', 'integrations', 'secrets', 'status'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]): string =>
      cells
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd();
    // The service's token-signing keys (issue 13) below the table, so its columns stay what scripts read.
    const signing = usage
      .filter((u) => u.signingKeys > 0)
      .map((u) => `${u.signingKeys} under ${u.masterKeyId}${u.currentSigningKeys > 0 ? ` (${u.currentSigningKeys} signing)` : ''}`);
    const signingLine = `token-signing keys: ${signing.length > 0 ? signing.join(', ') : 'none yet'}`;
    // Integrations' kept versions (their history) are encrypted under the same data keys as the integrations.
    const versions = usage.filter((u) => u.versions > 0).map((u) => `${u.versions} under ${u.masterKeyId} (${u.versionSecrets} secrets)`);
    const versionsLine = `kept versions: ${versions.length > 0 ? versions.join(', ') : 'none yet'}`;
    // Webhook signing secrets (issue 15) are under the tenants' data keys too.
    const webhooks = usage.filter((u) => u.webhooks > 0).map((u) => `${u.webhooks} under ${u.masterKeyId} (${u.webhookSecrets} secrets)`);
    const webhooksLine = `webhooks: ${webhooks.length > 0 ? webhooks.join(', ') : 'none yet'}`;
    process.stdout.write(
      [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), '', signingLine, versionsLine, webhooksLine].join('\n') +
        '\n',
    );
    return usage.some((u) => !u.inRing && (u.tenants > 0 || u.currentSigningKeys > 0)) ? 2 : 0;
  }

  async rotate(options: { reencrypt: boolean; batchSize: number }): Promise<number> {
    process.stderr.write(`Database: ${describeDatabase(this.config.database)}\n`);
    const reporter = createProgressReporter(options.reencrypt ? 'Re-encrypting' : 'Re-wrapping');
    const summary = await this.keys.rotate({ ...options, actor: cliActor() }, (progress) => reporter.update(progress));
    reporter.finish();
    const lines = [
      `Done in ${summary.seconds.toFixed(1)} s: active master key '${summary.masterKeyId}'.`,
      `  re-wrapped:    ${summary.rewrapped} tenant data keys`,
      `  re-encrypted:  ${summary.reencrypted} tenants (${summary.integrations} integrations, ${summary.versions} kept versions, ${summary.webhooks} webhooks)`,
      `  signing keys:  ${summary.signingKeys} token-signing keys re-wrapped`,
      `  failed:        ${summary.failed.length}${summary.failed.length ? ` (${summary.failed.map((f) => f.tenantId).join(', ')})` : ''}`,
    ];
    for (const failure of summary.failed) lines.push(`    ${failure.tenantId}: ${failure.reason}`);
    lines.push(
      summary.failed.length
        ? 'Fix the failures above and run the same command again: finished tenants are skipped.'
        : 'Next: npm run keys:status; an old key showing 0 tenants can be removed from ENCRYPTION_KEYS.',
    );
    process.stdout.write(lines.join('\n') + '\n');
    return summary.failed.length ? 1 : 0;
  }
}
