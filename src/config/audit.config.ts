import { type Env, readEnum, readInt } from './config-error';

export const AUDIT_SECRET_READS = ['required', 'off'] as const;

/** The audit trail (src/audit): what it must record, and how long it keeps it. */
export interface AuditConfig {
  /**
   * Plaintext secret reads: `required` records an event before the response
   * is sent, and answers 503 instead of the secret when it cannot (Vault's
   * rule); `off` records none.
   */
  secretReads: (typeof AUDIT_SECRET_READS)[number];
  /** Events older than this many days are pruned (the chain stays verifiable through its anchor); 0 keeps them forever. */
  retentionDays: number;
}

export function loadAuditConfig(env: Env): AuditConfig {
  return {
    secretReads: readEnum(env, 'AUDIT_SECRET_READS', AUDIT_SECRET_READS, 'required'),
    retentionDays: readInt(env, 'AUDIT_RETENTION_DAYS', 365, 0, 36_500),
  };
}
