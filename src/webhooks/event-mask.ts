import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from './webhook-events';

/**
 * An endpoint's subscriptions as a bitmask, bit i for WEBHOOK_EVENT_TYPES[i]:
 * an emit picks the subscribed endpoints with `events_mask & bit <> 0`, the
 * same integer test on MySQL and SQLite, in the statement that writes the
 * outbox rows. New types go at the end of the list: the bits are stored.
 */
export function eventBit(type: WebhookEventType): number {
  const index = WEBHOOK_EVENT_TYPES.indexOf(type);
  if (index < 0) throw new Error(`unknown webhook event type '${String(type)}'`);
  return 1 << index;
}

export function eventMask(types: readonly WebhookEventType[]): number {
  return types.reduce((mask, type) => mask | eventBit(type), 0);
}

/** The types of a mask, in the order of WEBHOOK_EVENT_TYPES. */
export function eventsOfMask(mask: number): WebhookEventType[] {
  return WEBHOOK_EVENT_TYPES.filter((type) => (mask & eventBit(type)) !== 0);
}
