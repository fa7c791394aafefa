import { type Env, readInt } from './config-error';

/** What the service keeps of each integration's past (versions and rollback), and for how long. */
export interface HistoryConfig {
  /** Versions kept per integration: the newest ones; older ones are pruned. */
  maxVersions: number;
  /** Days a deleted integration's versions (and its tombstone) are kept, so it can be restored; 0 = until the next prune. */
  retentionDays: number;
  /** How often each instance prunes versions in the background. */
  pruneIntervalMs: number;
}

export function loadHistoryConfig(env: Env): HistoryConfig {
  return {
    maxVersions: readInt(env, 'HISTORY_MAX_VERSIONS', 20, 1, 1000),
    retentionDays: readInt(env, 'HISTORY_RETENTION_DAYS', 30, 0, 3650),
    pruneIntervalMs: readInt(env, 'HISTORY_PRUNE_INTERVAL_MS', 3_600_000, 100, 86_400_000),
  };
}
