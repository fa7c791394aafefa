import { type Env, ConfigError, readBool, readDuration, readInt, readVar } from './config-error';

/** Webhook delivery (issue 15): the outbox worker's pace, its retries, and what it may connect to. */
export interface WebhooksConfig {
  /** WEBHOOK_DELIVERY=off: this process stores events but sends none (command-line contexts, API-only instances). */
  delivery: boolean;
  /** WEBHOOK_ALLOW_PRIVATE=true lets endpoints be loopback, private or link-local addresses (tests, on-premises receivers). */
  allowPrivate: boolean;
  /** How often the worker looks for due deliveries, ms. */
  tickMs: number;
  /** How long a claimed delivery stays this instance's before another may take it, ms (more than the send timeout). */
  leaseMs: number;
  /** Deliveries in flight at once per instance. */
  concurrency: number;
  /** Deadline of one POST to an endpoint, ms. */
  timeoutMs: number;
  /** First retry delay, ms; it doubles per attempt (full jitter), capped at an hour. */
  retryBaseMs: number;
  /** How long an event is retried before it is marked failed, seconds. */
  retryForSeconds: number;
  /** An endpoint failing this long without a success in between is disabled, seconds. */
  disableAfterSeconds: number;
  /** How long the secret replaced by a rotation keeps signing beside the new one, seconds. */
  secretOverlapSeconds: number;
}

export function loadWebhooksConfig(env: Env): WebhooksConfig {
  const delivery = readVar(env, 'WEBHOOK_DELIVERY') ?? 'on';
  if (delivery !== 'on' && delivery !== 'off') throw new ConfigError(`WEBHOOK_DELIVERY must be on or off (got '${delivery}')`);
  const timeoutMs = readInt(env, 'WEBHOOK_TIMEOUT_MS', 10_000, 100, 60_000);
  const leaseMs = readInt(env, 'WEBHOOK_LEASE_MS', 60_000, 1000, 3_600_000);
  // A lease that ends while its POST may still be running would let a second instance send the same event at once.
  if (leaseMs <= timeoutMs) throw new ConfigError(`WEBHOOK_LEASE_MS (${leaseMs}) must be longer than WEBHOOK_TIMEOUT_MS (${timeoutMs})`);
  return {
    delivery: delivery === 'on',
    allowPrivate: readBool(env, 'WEBHOOK_ALLOW_PRIVATE', false),
    tickMs: readInt(env, 'WEBHOOK_TICK_MS', 1000, 10, 60_000),
    leaseMs,
    concurrency: readInt(env, 'WEBHOOK_CONCURRENCY', 8, 1, 256),
    timeoutMs,
    retryBaseMs: readInt(env, 'WEBHOOK_RETRY_BASE_MS', 5000, 10, 3_600_000),
    retryForSeconds: readDuration(env, 'WEBHOOK_RETRY_FOR', 24 * 3600, 0, 30 * 86400),
    disableAfterSeconds: readDuration(env, 'WEBHOOK_DISABLE_AFTER', 3 * 86400, 0, 365 * 86400),
    secretOverlapSeconds: readDuration(env, 'WEBHOOK_SECRET_OVERLAP', 24 * 3600, 0, 30 * 86400),
  };
}
