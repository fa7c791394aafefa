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

/** A documented response header (OpenAPI header object). */
export interface ApiHeaderDoc {
  description: string;
  schema: { type: 'string' | 'integer'; example?: string | number };
}

/** Headers that come with some errors, documented where the error is. */
export const ERROR_HEADERS: Partial<Record<number, Record<string, ApiHeaderDoc>>> = {
  401: { 'WWW-Authenticate': { description: 'The scheme to authenticate with', schema: { type: 'string', example: 'Bearer' } } },
  429: { 'Retry-After': { description: 'Seconds until the caller may try again', schema: { type: 'integer', example: 42 } } },
  503: { 'Retry-After': { description: 'Seconds until a retry may succeed', schema: { type: 'string', example: '5' } } },
};

/**
 * One error status with examples of its real bodies (message and code, as the
 * filter sends them), for routes that document their errors one by one.
 */
export function ApiErrorExamples(
  status: number,
  examples: Record<string, { error: string; code?: string; error_description?: string; details?: { field: string; message: string }[] }>,
  options: { description?: string; schema?: object; headers?: Record<string, ApiHeaderDoc> } = {},
): MethodDecorator & ClassDecorator {
  const requestId = 'c0a8012e-5d1f-4c55-9a87-7a7d1f0c2f4b';
  return ApiResponse({
    status,
    description: options.description ?? DESCRIPTIONS[status],
    headers: options.headers ?? ERROR_HEADERS[status],
    content: {
      'application/json': {
        schema: options.schema ?? ERROR_SCHEMA,
        examples: Object.fromEntries(Object.entries(examples).map(([name, body]) => [name, { summary: name, value: { ...body, requestId } }])),
      },
    },
  });
}
