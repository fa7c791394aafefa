import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfiguration } from './configuration';

const base = () => ({
  DATA_DIR: mkdtempSync(join(tmpdir(), 'audit-config-spec-')),
  JWT_SECRET: 'a-secret-that-is-at-least-32-bytes-long',
  ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
});

describe('audit configuration', () => {
  it('defaults: secret reads must be recorded, events kept 365 days', () => {
    expect(loadConfiguration(base()).audit).toEqual({ secretReads: 'required', retentionDays: 365 });
  });

  it('reads AUDIT_SECRET_READS=off and AUDIT_RETENTION_DAYS (0 keeps events forever)', () => {
    expect(loadConfiguration({ ...base(), AUDIT_SECRET_READS: 'off', AUDIT_RETENTION_DAYS: '0' }).audit).toEqual({
      secretReads: 'off',
      retentionDays: 0,
    });
  });

  it.each([
    [{ AUDIT_SECRET_READS: 'sometimes' }, "AUDIT_SECRET_READS must be one of required, off (got 'sometimes')"],
    [{ AUDIT_RETENTION_DAYS: '-1' }, "AUDIT_RETENTION_DAYS must be an integer from 0 to 36500 (got '-1')"],
    [{ AUDIT_RETENTION_DAYS: '1y' }, "AUDIT_RETENTION_DAYS must be an integer from 0 to 36500 (got '1y')"],
  ])('refuses %o with one line naming the variable', (env, message) => {
    expect(() => loadConfiguration({ ...base(), ...env })).toThrow(new ConfigError(message));
  });
});
