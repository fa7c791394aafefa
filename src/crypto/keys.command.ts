import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Configuration } from '../config/configuration';
import { describeDatabase } from '../config/database.config';
import { dataSourceOptions } from '../database/data-source-options';
import { DatabaseService } from '../database/database.service';
import { runMigrations } from '../database/migrate';
import { DataKeyService } from './data-key.service';
import { KeyManagementService } from './key-management.service';
import { createProgressReporter } from './progress-reporter';

/** `keys:status` and `keys:rotate`: the operator's side of the key ring. */
export async function runKeysCommand(
  command: 'keys:status' | 'keys:rotate',
  config: Configuration,
  options: { reencrypt: boolean; batchSize: number },
): Promise<number> {
  Logger.overrideLogger(false);
  const dataSource = new DataSource(dataSourceOptions(config.database));
  await dataSource.initialize();
  try {
    await runMigrations(dataSource);
    const keys = new KeyManagementService(new DatabaseService(dataSource, config), new DataKeyService(config));
    process.stderr.write(`Database: ${describeDatabase(config.database)}\n`);
    return command === 'keys:status' ? await printStatus(keys) : await rotate(keys, options);
  } finally {
    await dataSource.destroy();
  }
}

async function printStatus(keys: KeyManagementService): Promise<number> {
  const usage = await keys.usage();
  const rows = usage.map((u) => [
    u.masterKeyId + (u.active ? ' (active)' : ''),
    u.inRing ? 'yes' : 'NO',
    String(u.tenants),
    String(u.integrations),
    String(u.secrets),
    u.active ? 'in use (active)' : u.tenants === 0 ? 'can be removed from ENCRYPTION_KEYS' : 'still needed: run keys:rotate',
  ]);
  const header = ['master key', 'in ring', 'tenants', 'integrations', 'secrets', 'status'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  process.stdout.write([line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n');
  return usage.some((u) => !u.inRing && u.tenants > 0) ? 2 : 0;
}

async function rotate(keys: KeyManagementService, options: { reencrypt: boolean; batchSize: number }): Promise<number> {
  const label = options.reencrypt ? 'Re-encrypting' : 'Re-wrapping';
  const reporter = createProgressReporter(label);
  const summary = await keys.rotate(options, (progress) => reporter.update(progress));
  reporter.finish();
  const lines = [
    `Done in ${summary.seconds.toFixed(1)} s: active master key '${summary.masterKeyId}'.`,
    `  re-wrapped:    ${summary.rewrapped} tenant data keys`,
    `  re-encrypted:  ${summary.reencrypted} tenants (${summary.integrations} integrations)`,
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
