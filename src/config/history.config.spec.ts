import { ConfigError } from './config-error';
import { loadHistoryConfig } from './history.config';

describe('loadHistoryConfig', () => {
  it('defaults to 20 versions, 30 days for deleted integrations, a prune every hour', () => {
    expect(loadHistoryConfig({})).toEqual({ maxVersions: 20, retentionDays: 30, pruneIntervalMs: 3_600_000 });
  });

  it('reads the overrides', () => {
    expect(loadHistoryConfig({ HISTORY_MAX_VERSIONS: '5', HISTORY_RETENTION_DAYS: '0', HISTORY_PRUNE_INTERVAL_MS: '250' })).toEqual({
      maxVersions: 5,
      retentionDays: 0,
      pruneIntervalMs: 250,
    });
  });

  it.each([
    [{ HISTORY_MAX_VERSIONS: '0' }, "HISTORY_MAX_VERSIONS must be an integer from 1 to 1000 (got '0')"],
    [{ HISTORY_MAX_VERSIONS: 'all' }, "HISTORY_MAX_VERSIONS must be an integer from 1 to 1000 (got 'all')"],
    [{ HISTORY_RETENTION_DAYS: '-1' }, "HISTORY_RETENTION_DAYS must be an integer from 0 to 3650 (got '-1')"],
    [{ HISTORY_PRUNE_INTERVAL_MS: '1.5' }, "HISTORY_PRUNE_INTERVAL_MS must be an integer from 100 to 86400000 (got '1.5')"],
  ])('refuses %j with a one-line ConfigError', (env, message) => {
    expect(() => loadHistoryConfig(env)).toThrow(new ConfigError(message));
  });
});
