import type { SchemaObject } from '@nestjs/swagger';
import { AUDIT_ACTIONS, PLATFORM_CHAIN } from './audit-chain';
import type { AuditEventEntity } from './audit-event.entity';
import { CURSOR_PATTERN } from './audit-query';

/** An audit event on the wire: flat kebab-case JSON, like every answer of the API. */
export interface AuditEventWire {
  seq: number;
  time: string;
  tenant: string;
  actor: string;
  action: string;
  target: string;
  outcome: number;
  'request-id': string | null;
  'client-address': string | null;
  'user-agent': string | null;
  hash: string;
  'prev-hash': string;
}

export interface AuditPageWire {
  events: AuditEventWire[];
  'next-cursor': string | null;
}

export function toAuditWire(row: AuditEventEntity): AuditEventWire {
  return {
    seq: row.seq,
    time: row.occurredAt.toISOString(),
    tenant: row.tenantId,
    actor: row.actorSub,
    action: row.action,
    target: row.target,
    outcome: row.outcome,
    'request-id': row.requestId,
    'client-address': row.clientAddress,
    'user-agent': row.userAgent,
    hash: row.hash,
    'prev-hash': row.prevHash,
  };
}

const HASH = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;

export const AUDIT_EVENT_EXAMPLE: AuditEventWire = {
  seq: 42,
  time: '2026-11-28T10:00:00.000Z',
  tenant: 'acme',
  actor: 'alice@example.com',
  action: 'client.create',
  target: 'ic-5f0c2a9d81e34b7a6c0d1e2f',
  outcome: 201,
  'request-id': 'c0a8012e-5d1f-4c55-9a87-7a7d1f0c2f4b',
  'client-address': '203.0.113.7',
  'user-agent': 'curl/8.5.0',
  hash: '9f2b5c0e1d7a4b3c8e6f5a4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b',
  'prev-hash': '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809',
};

/** Component schemas of the audit routes: `AuditEvent` (also each NDJSON line) and `AuditPage`. */
export function auditSchemas(): Record<string, SchemaObject> {
  return {
    AuditEvent: {
      type: 'object',
      description:
        "One event of a chain. `hash` is SHA-256 over `prev-hash` and the event's fields (npm run audit:verify recomputes it); " +
        'never a secret or a token.',
      required: [
        'seq',
        'time',
        'tenant',
        'actor',
        'action',
        'target',
        'outcome',
        'request-id',
        'client-address',
        'user-agent',
        'hash',
        'prev-hash',
      ],
      additionalProperties: false,
      properties: {
        seq: {
          type: 'integer',
          minimum: 1,
          description: 'Position in the chain: 1, 2, 3 … without gaps (a retention prune removes the oldest)',
        },
        time: { type: 'string', format: 'date-time', description: 'When it happened (never earlier than the previous event)' },
        tenant: { type: 'string', description: `The tenant; \`${PLATFORM_CHAIN}\` for platform-wide actions (the token-signing keys)` },
        actor: {
          type: 'string',
          description:
            "The token's `sub` (an API client's id for its own tokens), `cli:<user>` for the operator commands, `system` for the service itself",
        },
        action: { type: 'string', enum: [...AUDIT_ACTIONS] },
        target: {
          type: 'string',
          description:
            'What it acted on: the tenant, an integration or API client id, `master-key:<id>`, `data-key:v<n>`, a signing key id …',
        },
        outcome: {
          type: 'integer',
          description:
            'The HTTP status answered; for integration.verify, 200 when the vendor accepted the credentials and 422 when it refused them',
        },
        'request-id': { type: 'string', nullable: true, description: 'The X-Request-Id of the request; null outside HTTP' },
        'client-address': { type: 'string', nullable: true, description: 'The address the request came from; null outside HTTP' },
        'user-agent': { type: 'string', nullable: true, description: 'The User-Agent header, cut to 200 characters' },
        hash: HASH,
        'prev-hash': { ...HASH, description: "The previous event's hash (64 zeros for the first; the anchor's after a prune)" },
      },
      example: AUDIT_EVENT_EXAMPLE,
    },
    AuditPage: {
      type: 'object',
      required: ['events', 'next-cursor'],
      additionalProperties: false,
      properties: {
        events: { type: 'array', items: { $ref: '#/components/schemas/AuditEvent' } },
        'next-cursor': {
          type: 'string',
          nullable: true,
          pattern: CURSOR_PATTERN,
          description: 'Send it as `cursor` for the next page; null on the last one',
        },
      },
    },
  };
}
