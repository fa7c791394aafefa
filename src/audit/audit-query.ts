import { applyDecorators } from '@nestjs/common';
import { ApiQuery } from '@nestjs/swagger';
import type { ErrorDetail } from '../common/errors/domain-errors';
import { validationFailed } from '../common/pipes/validation';
import { AUDIT_ACTIONS, type AuditAction, isAuditAction } from './audit-chain';

/** Where a page ends: after `after`, up to `upTo` (the chain's head when the first page was read), so paging always ends. */
export interface AuditCursor {
  after: number;
  upTo: number;
}

/** `?since=&action=&limit=&cursor=` of GET …/audit. */
export interface AuditQuery {
  since?: Date;
  action?: AuditAction;
  /** Events per JSON page (default 100); with NDJSON, the most lines sent (default all). */
  limit?: number;
  cursor?: AuditCursor;
}

export const AUDIT_LIMIT = { min: 1, max: 1000, fallback: 100 } as const;

const PARAMETERS = ['since', 'action', 'limit', 'cursor'];
const ISO_DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:\d\d)$/;
export const CURSOR_PATTERN = '^[A-Za-z0-9_-]{1,64}$';

export function encodeCursor(cursor: AuditCursor): string {
  return Buffer.from(`v1.${cursor.after}.${cursor.upTo}`).toString('base64url');
}

export function decodeCursor(text: string): AuditCursor | undefined {
  if (!new RegExp(CURSOR_PATTERN).test(text)) return undefined;
  const match = /^v1\.(\d{1,10})\.(\d{1,10})$/.exec(Buffer.from(text, 'base64url').toString('utf8'));
  if (match === null) return undefined;
  const cursor = { after: Number(match[1]), upTo: Number(match[2]) };
  return cursor.after <= cursor.upTo ? cursor : undefined;
}

/**
 * Reads the query of GET …/audit by hand, like the list routes' page query:
 * each parameter once, within its rules; any other parameter is refused.
 */
export function parseAuditQuery(query: Readonly<Record<string, unknown>>): AuditQuery {
  const details: ErrorDetail[] = [];
  const result: AuditQuery = {};
  for (const [key, raw] of Object.entries(query)) {
    if (!PARAMETERS.includes(key)) {
      details.push({ field: key, message: `property ${key} should not exist` });
      continue;
    }
    if (typeof raw !== 'string') {
      details.push({ field: key, message: `${key} must be given once` });
      continue;
    }
    switch (key) {
      case 'since': {
        const time = ISO_DATE_TIME.test(raw) ? new Date(raw) : undefined;
        if (time === undefined || Number.isNaN(time.getTime()))
          details.push({ field: key, message: 'since must be an ISO 8601 date-time, like 2026-11-28T10:00:00Z' });
        else result.since = time;
        break;
      }
      case 'action':
        if (isAuditAction(raw)) result.action = raw;
        else details.push({ field: key, message: `action must be one of ${AUDIT_ACTIONS.join(', ')}` });
        break;
      case 'limit': {
        const value = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
        if (Number.isInteger(value) && value >= AUDIT_LIMIT.min && value <= AUDIT_LIMIT.max) result.limit = value;
        else details.push({ field: key, message: `limit must be an integer from ${AUDIT_LIMIT.min} to ${AUDIT_LIMIT.max}` });
        break;
      }
      case 'cursor': {
        const cursor = decodeCursor(raw);
        if (cursor === undefined) details.push({ field: key, message: 'cursor must be a next-cursor this API returned' });
        else result.cursor = cursor;
        break;
      }
    }
  }
  if (details.length > 0) throw validationFailed(details);
  return result;
}

/** The OpenAPI side of parseAuditQuery. */
export const ApiAuditQuery = (): MethodDecorator =>
  applyDecorators(
    ApiQuery({
      name: 'since',
      required: false,
      description: 'Only events at or after this time (ISO 8601)',
      schema: { type: 'string', format: 'date-time', example: '2026-11-28T00:00:00Z' },
    }),
    ApiQuery({
      name: 'action',
      required: false,
      description: 'Only events of this action',
      schema: { type: 'string', enum: [...AUDIT_ACTIONS] },
    }),
    ApiQuery({
      name: 'limit',
      required: false,
      description: 'Events per page (JSON); with NDJSON, the most lines sent (default: every event)',
      schema: { type: 'integer', minimum: AUDIT_LIMIT.min, maximum: AUDIT_LIMIT.max, default: AUDIT_LIMIT.fallback },
    }),
    ApiQuery({
      name: 'cursor',
      required: false,
      description: "The previous page's `next-cursor` (opaque): the events after it, up to the chain's head when the first page was read",
      schema: { type: 'string', pattern: CURSOR_PATTERN },
    }),
  );
