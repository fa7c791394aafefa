import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';

/** The error body every failure shares, for the OpenAPI document. */
export const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    error: { type: 'string', example: "Tenant 'acme' does not exist or has been deleted" },
    code: { type: 'string', example: 'TENANT_NOT_FOUND' },
    details: {
      type: 'array',
      items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } },
    },
    requestId: { type: 'string', example: 'c0a8012e-5d1f-4c55-9a87-7a7d1f0c2f4b' },
  },
};

const DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed JSON, failed validation, id mismatch, unknown type or field',
  401: 'Missing, malformed, expired or badly signed token',
  403: 'The token lacks the scope, or the tenant is not among its tenants',
  404: 'Tenant does not exist or has been deleted; or no such integration',
  409: 'A tenant with this id exists (or existed)',
  412: 'If-Match does not match the current ETag',
  413: 'Body too large',
  415: 'Body is not JSON',
  422: 'The vendor rejected the credentials',
  428: 'If-Match is required',
  429: 'Rate limit reached (see Retry-After)',
  500: 'Unexpected error (only a request id is returned)',
  503: 'The database is unreachable (see Retry-After)',
};

/** Documents the given error statuses (plus the ones every protected route has). */
export function ApiErrors(...statuses: number[]): MethodDecorator & ClassDecorator {
  const all = [...new Set([401, 429, 500, 503, ...statuses])].sort();
  return applyDecorators(...all.map((status) => ApiResponse({ status, description: DESCRIPTIONS[status], schema: ERROR_SCHEMA })));
}
