import { createHash } from 'node:crypto';

/**
 * What an audit event is and how a chain is hashed. Pure functions: the
 * service appends with them, `audit:verify` checks with them.
 */

/** Every action the trail records. Each names the module and the verb; the API filters on them. */
export const AUDIT_ACTIONS = [
  'tenant.create',
  'tenant.update',
  'tenant.delete',
  'integration.create',
  'integration.replace',
  'integration.update',
  'integration.delete',
  'integration.restore',
  'integration.verify',
  'integration.secret-read',
  'client.create',
  'client.delete',
  'client.rotate-secret',
  'keys.rewrap',
  'keys.replace',
  'signing-key.create',
  'signing-key.rotate',
  'signing-key.rewrap',
  'audit.read',
  'webhook.create',
  'webhook.update',
  'webhook.delete',
  'webhook.rotate-secret',
  'webhook.redeliver',
  'webhook.disable',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export function isAuditAction(value: unknown): value is AuditAction {
  return typeof value === 'string' && (AUDIT_ACTIONS as readonly string[]).includes(value);
}

/**
 * The chain of platform-wide actions (the service's token-signing keys). Not
 * a tenant id (ids are letters, digits, ".", "_" and "-"), so no tenant can
 * ever share it; read at GET /platform/audit.
 */
export const PLATFORM_CHAIN = ':platform';

/** The `prev_hash` of a chain's first event. */
export const GENESIS_HASH = '0'.repeat(64);

/** Column lengths of audit_events: what is hashed is cut to them first, so what is stored is what was hashed. */
export const FIELD_LIMITS = { actorSub: 255, target: 255, requestId: 64, clientAddress: 64, userAgent: 200 } as const;

/** The fields an event's hash covers, as stored. */
export interface ChainedEvent {
  tenantId: string;
  seq: number;
  occurredAt: Date;
  actorSub: string;
  action: string;
  target: string;
  outcome: number;
  requestId: string | null;
  clientAddress: string | null;
  userAgent: string | null;
}

/**
 * The text hashed for an event: a JSON array in a fixed order, the time at
 * millisecond precision (what datetime(3) and SQLite's text keep). Versioned,
 * so a later format can be told apart.
 */
export function canonicalEvent(event: ChainedEvent): string {
  return JSON.stringify([
    'audit-v1',
    event.tenantId,
    event.seq,
    event.occurredAt.toISOString(),
    event.actorSub,
    event.action,
    event.target,
    event.outcome,
    event.requestId,
    event.clientAddress,
    event.userAgent,
  ]);
}

/** SHA-256 over the previous event's hash and this event's canonical text, hex. */
export function chainHash(prevHash: string, event: ChainedEvent): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonicalEvent(event)).digest('hex');
}

// Control characters (log injection) and lone surrogates (which no database stores as given) become U+FFFD.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSTORABLE = /[\u0000-\u001f\u007f]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * A field as it will read back from either engine: unstorable characters
 * replaced, cut to the column's length without splitting a surrogate pair.
 * The hash is computed over this, so a verifier recomputes the same value.
 */
export function storable(value: string, max: number): string {
  let text = value.replace(UNSTORABLE, '\uFFFD');
  if (text.length > max) {
    text = text.slice(0, max);
    const last = text.charCodeAt(text.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) text = text.slice(0, -1);
  }
  return text;
}

export function storableOrNull(value: string | null | undefined, max: number): string | null {
  return value === null || value === undefined || value === '' ? null : storable(value, max);
}
