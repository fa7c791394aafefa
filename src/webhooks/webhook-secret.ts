import { randomBytes } from 'node:crypto';

/** A signing secret in the Standard Webhooks format: `whsec_` and the base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** A webhook's id: `wh-` and 24 hex digits (fits the path id rules). */
export function newWebhookId(): string {
  return `wh-${randomBytes(12).toString('hex')}`;
}

/** An event's id, the `webhook-id` header of its every delivery and attempt: `evt_` and 24 hex digits. */
export function newEventId(): string {
  return `evt_${randomBytes(12).toString('hex')}`;
}

export const WEBHOOK_ID_PATTERN = '^wh-[0-9a-f]{24}$';
export const EVENT_ID_PATTERN = '^evt_[0-9a-f]{24}$';
export const WEBHOOK_SECRET_PATTERN = '^whsec_[A-Za-z0-9+/]{43}=$';
