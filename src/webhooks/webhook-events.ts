import type { EntityManager } from 'typeorm';

/**
 * The events a tenant's webhooks can subscribe to (issue 15). Each is emitted
 * inside the transaction of the change that caused it, through
 * `WebhookEventSink.emit`, so an event exists exactly when its change
 * committed (the transactional outbox); delivery happens later, at least once.
 */
export const WEBHOOK_EVENT_TYPES = [
  'integration.created',
  'integration.updated',
  'integration.deleted',
  'integration.verification.failed',
  'integration.verification.recovered',
  'tenant.keys.rotated',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * What an event says, in the wire format's kebab-case. Never a secret, a
 * token or a stored credential value: ids, the vendor type, the revision,
 * verification status and message (messages are redacted by the verifier).
 */
export interface WebhookEventData {
  tenant: string;
  integration?: string;
  'integration-type'?: string;
  revision?: number;
  /** Verification events: 'ok' or 'failed', and the vendor's (redacted) message. */
  status?: 'ok' | 'failed';
  message?: string;
  /** tenant.keys.rotated: the tenant's data-key version after the rotation. */
  'data-key-version'?: number;
}

export interface WebhookEvent {
  tenantId: string;
  type: WebhookEventType;
  data: WebhookEventData;
  /** When the change happened (the payload's `timestamp`). */
  at: Date;
}

/** A SQL expression with its named parameters (TypeORM's `:name`), for another module's query to embed. */
export interface SqlExpression {
  sql: string;
  parameters: Record<string, unknown>;
}

/**
 * Where changes emit their events: the webhooks module's outbox. `tx` is the
 * transaction of the change; the event commits with it or not at all.
 */
export abstract class WebhookEventSink {
  /**
   * `subscribed`: what the change's own read saw through `subscriberProbe`.
   * False means the tenant had no enabled webhook then, and no outbox
   * statement is sent (it would add no row); the event goes to the webhooks
   * that were enabled when the change read its row. Undefined when the change
   * did not ask: the outbox statement finds the subscribers itself.
   */
  abstract emit(event: WebhookEvent, tx: EntityManager, subscribed?: boolean): Promise<void>;

  /**
   * An expression that is 1 when the tenant in `tenantColumn` (a column of
   * the caller's query, e.g. `i.tenant_id`) has an enabled webhook, else 0:
   * for a change to read with its row, in the same statement, and pass to
   * `emit`. Most tenants have none, and the outbox INSERT … SELECT of each
   * of their writes would be a round trip that adds nothing.
   */
  abstract subscriberProbe(tenantColumn: string): SqlExpression;
}
