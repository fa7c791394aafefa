import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import type { HeaderObject, ReferenceObject, SchemaObject } from '@nestjs/swagger';
import { REVOKED_TOKEN } from '../auth/jwt-auth.guard';
import {
  AUDIT_UNAVAILABLE_MESSAGES,
  AuditUnavailableError,
  DatabaseBusyError,
  DatabaseUnavailableError,
  type DomainError,
  type ErrorDetail,
  ForbiddenError,
  type OAuthError,
  type OAuthErrorCode,
  RateLimitedError,
  SecretUnreadableError,
  UnauthenticatedError,
  ValidationFailedError,
} from './errors/domain-errors';
import { RESOURCE_ID_PATTERN } from './validation/resource-id';

/**
 * The OpenAPI side of the error format (issue 17): one schema per status, its
 * `code` an enum of the codes that status carries, and per route the real
 * messages as named examples. Every value here is what toErrorResponse and
 * sendError produce; test/openapi-contract.e2e-spec.ts checks the document's
 * examples against these schemas, and the e2e suites check every real answer.
 */

/** Every `code` an error body can carry, by status (DomainError codes, and toErrorResponse's for Fastify's own errors). */
export const ERROR_CODES = {
  400: ['VALIDATION_FAILED', 'BAD_REQUEST'],
  401: ['UNAUTHENTICATED'],
  403: ['FORBIDDEN'],
  404: ['TENANT_NOT_FOUND', 'INTEGRATION_NOT_FOUND', 'NOT_VERIFIED', 'API_CLIENT_NOT_FOUND', 'VERSION_NOT_FOUND', 'WEBHOOK_NOT_FOUND', 'WEBHOOK_DELIVERY_NOT_FOUND'],
  409: ['TENANT_EXISTS', 'WRITE_CONFLICT', 'NOTHING_TO_RESTORE'],
  412: ['PRECONDITION_FAILED'],
  413: ['PAYLOAD_TOO_LARGE'],
  415: ['UNSUPPORTED_MEDIA_TYPE'],
  422: ['UNPROCESSABLE'],
  428: ['PRECONDITION_REQUIRED'],
  429: ['RATE_LIMITED'],
  500: ['INTERNAL', 'SECRET_UNREADABLE'],
  503: ['DATABASE_UNAVAILABLE', 'DATABASE_BUSY', 'KEY_ROTATED', 'AUDIT_UNAVAILABLE'],
} as const;

export type ErrorStatus = keyof typeof ERROR_CODES;
export type ErrorCode = (typeof ERROR_CODES)[ErrorStatus][number];

const DESCRIPTIONS: Record<ErrorStatus, string> = {
  400: 'Malformed JSON, failed validation, id mismatch, unknown type or field, or a path id outside the id rules',
  401: 'Missing, malformed, expired or badly signed token, or a token of a deleted API client',
  403: 'The token lacks the scope, or the tenant is not among its tenants',
  404: 'Tenant does not exist or has been deleted; or no such integration, API client, webhook or delivery',
  409: 'Conflict',
  412: 'If-Match does not match the current ETag',
  413: 'Body larger than BODY_LIMIT',
  415: 'Body is not JSON',
  422: 'VERIFY_ON_SAVE=true and the vendor rejected the credentials',
  428: 'REQUIRE_IF_MATCH=true and the write to an existing integration sent no If-Match',
  429: 'Rate limit reached (RATE_LIMIT_MAX per RATE_LIMIT_WINDOW_MS); retry after Retry-After seconds',
  500: 'Unexpected error: the body says only that, with the request id to quote',
  503: 'The database is unreachable, (DATABASE_BUSY) a write kept conflicting with concurrent ones and was not applied, or (KEY_ROTATED) a data key changed during the read; retry after Retry-After seconds',
};

export const REQUEST_ID_EXAMPLE = 'c0a8012e-5d1f-4c55-9a87-7a7d1f0c2f4b';

/** Name of the component schema of an error status. */
export const errorSchemaName = (status: ErrorStatus): string => `Error${status}`;

/** Component schemas for the document: `Error400` … `Error503`. */
export function errorSchemas(): Record<string, SchemaObject> {
  const schemas: Record<string, SchemaObject> = {};
  for (const [status, codes] of Object.entries(ERROR_CODES)) {
    schemas[errorSchemaName(Number(status) as ErrorStatus)] = {
      type: 'object',
      description: `The error body of a ${status}: a human-readable message, a stable code, the request id`,
      required: ['error', 'code', 'requestId'],
      additionalProperties: false,
      properties: {
        error: { type: 'string', description: 'Human-readable message; never a secret, a stack trace or driver text' },
        code: { type: 'string', enum: [...codes] },
        details: {
          type: 'array',
          description: 'One entry per invalid field (validation errors)',
          items: {
            type: 'object',
            required: ['field', 'message'],
            additionalProperties: false,
            properties: { field: { type: 'string' }, message: { type: 'string' } },
          },
        },
        requestId: { type: 'string', description: 'Also in the X-Request-Id header; quote it to an operator' },
      },
    };
  }
  return schemas;
}

/** Response headers shared by many answers, as components (`#/components/headers/…`). */
export function headerComponents(): Record<string, HeaderObject> {
  return {
    'X-Request-Id': {
      description: "The request's id: the client's X-Request-Id when it is 8-64 characters of [A-Za-z0-9._-], else a new UUID",
      required: true,
      schema: { type: 'string' },
    },
    'Retry-After': { description: 'Seconds to wait before retrying', required: true, schema: { type: 'integer', minimum: 0 } },
    'WWW-Authenticate': {
      description: 'The authentication scheme (RFC 6750)',
      required: true,
      schema: { type: 'string', enum: ['Bearer'] },
    },
    ETag: {
      description: "The integration's version (RFC 9110 §8.8.3); send it as If-Match to make a write conditional",
      required: true,
      schema: { type: 'string', pattern: '^"r[0-9]+"$', example: '"r3"' },
    },
    'X-Total-Count': { description: 'Number of items in all pages', required: true, schema: { type: 'integer', minimum: 0 } },
    // Every API answer carries Cache-Control: no-store (a transport header the contract lets through anywhere);
    // documented, and so checked, on the answers that hand out a credential, where RFC 6749 §5.1 requires it.
    'Cache-Control': {
      description: 'The answer holds a credential: no cache may keep it (RFC 6749 §5.1)',
      required: true,
      schema: { type: 'string', enum: ['no-store'] },
    },
    Pragma: { description: 'For HTTP/1.0 caches (RFC 6749 §5.1)', required: true, schema: { type: 'string', enum: ['no-cache'] } },
  };
}

const header = (name: string): ReferenceObject => ({ $ref: `#/components/headers/${name}` });

/** The headers of an answer: X-Request-Id always, plus the named ones (`ETag?` for an optional one). */
export function responseHeaders(...names: string[]): Record<string, HeaderObject | ReferenceObject> {
  const headers: Record<string, HeaderObject | ReferenceObject> = { 'X-Request-Id': header('X-Request-Id') };
  for (const name of names) {
    if (name.endsWith('?')) {
      const bare = name.slice(0, -1);
      const { required: _required, ...optional } = headerComponents()[bare];
      headers[bare] = { ...optional, required: false };
    } else {
      headers[name] = header(name);
    }
  }
  return headers;
}

/** One error answer as a named example: the real message of one case. */
export interface ErrorExample {
  /** Short name of the case, shown in Swagger UI's example list. */
  summary: string;
  code: ErrorCode;
  error: string;
  details?: ErrorDetail[];
}

/** An example built from the error the service really throws. */
export function exampleOf(summary: string, error: DomainError): ErrorExample {
  return { summary, code: error.code as ErrorCode, error: error.message, ...(error.details ? { details: error.details } : {}) };
}

const pathIdMessage = (param: string): string => `${param} in the path must be 1-64 characters of letters, digits, ".", "_" or "-"`;

/** Cases many routes share. The messages are those of the guards, pipes and filter. */
export const ERR = {
  badPathId: (param: 'iid' | 'id' | 'clientId' | 'deliveryId'): ErrorExample =>
    exampleOf(
      `malformed path ${param}`,
      new ValidationFailedError(pathIdMessage(param), [{ field: param, message: pathIdMessage(param) }]),
    ),
  badPage: exampleOf(
    'limit or offset out of bounds, or another query parameter',
    new ValidationFailedError('Validation failed (limit)', [{ field: 'limit', message: 'limit must be an integer from 1 to 1000' }]),
  ),
  badUrl: {
    summary: 'a percent-escape in the path that does not decode',
    code: 'BAD_REQUEST',
    error: 'The URL does not decode: a percent-escape in it is malformed',
  } satisfies ErrorExample,
  // Fastify's own words for what its JSON parser refuses.
  malformedJson: {
    summary: 'malformed JSON',
    code: 'BAD_REQUEST',
    error: "Body is not valid JSON but content-type is set to 'application/json'",
  } satisfies ErrorExample,
  emptyBody: {
    summary: 'empty body',
    code: 'BAD_REQUEST',
    error: "Body cannot be empty when content-type is set to 'application/json'",
  } satisfies ErrorExample,
  missingToken: exampleOf('no token', new UnauthenticatedError('Missing bearer token (Authorization: Bearer <JWT>)')),
  expiredToken: exampleOf('expired token', new UnauthenticatedError('Token has expired')),
  badSignature: exampleOf('bad signature', new UnauthenticatedError('Invalid token: invalid signature')),
  revokedToken: exampleOf('token of a deleted API client', new UnauthenticatedError(REVOKED_TOKEN)),
  lacksScope: (scope: string): ErrorExample => exampleOf('scope missing', new ForbiddenError(`This token lacks the scope '${scope}'`)),
  foreignTenant: exampleOf('tenant not in the token', new ForbiddenError("This token may not access tenant 'acme'")),
  tooLarge: { summary: 'body too large', code: 'PAYLOAD_TOO_LARGE', error: 'Request body is too large' } satisfies ErrorExample,
  notJson: { summary: 'not JSON', code: 'UNSUPPORTED_MEDIA_TYPE', error: 'Unsupported Media Type' } satisfies ErrorExample,
  rateLimited: exampleOf('rate limited', new RateLimitedError(42)),
  internal: {
    summary: 'unexpected',
    code: 'INTERNAL',
    error: 'Internal error; quote the request id to an operator',
  } satisfies ErrorExample,
  secretUnreadable: exampleOf('a stored secret does not decrypt', new SecretUnreadableError('acme', 'salesforce')),
  databaseDown: exampleOf('database unreachable', new DatabaseUnavailableError()),
  databaseBusy: exampleOf('write conflicts', new DatabaseBusyError()),
  auditUnavailableChange: exampleOf('audit trail unwritable', new AuditUnavailableError(AUDIT_UNAVAILABLE_MESSAGES.change)),
  auditUnavailableRead: exampleOf('audit trail unwritable', new AuditUnavailableError(AUDIT_UNAVAILABLE_MESSAGES.secretRead)),
};

export interface ApiErrorsOptions {
  /** The route needs a token: 401, and 429 from the rate limit. Default true. */
  auth?: boolean;
  /** The route reaches the database: 503 DATABASE_UNAVAILABLE. Default true. */
  database?: boolean;
  /** What a status means on this route, where the shared description does not say it. */
  descriptions?: Partial<Record<ErrorStatus, string>>;
  /**
   * The route writes an audit event before it answers (src/audit): a change
   * commits with its event, a plaintext secret is sent only after its event.
   * Adds the 503 AUDIT_UNAVAILABLE case.
   */
  audited?: 'change' | 'secret-read';
}

/**
 * Documents the error answers of a route: each status with its schema, its
 * headers (Retry-After on 429/503, WWW-Authenticate on 401) and the real
 * messages as named examples. 401/429 (token routes), 503 (database routes)
 * and 500 (every route, as "unexpected") are added here.
 */
export function ApiErrors(cases: Partial<Record<ErrorStatus, readonly ErrorExample[]>>, options: ApiErrorsOptions = {}): MethodDecorator {
  const all: Partial<Record<ErrorStatus, ErrorExample[]>> = {};
  const add = (status: ErrorStatus, examples: readonly ErrorExample[]): void => {
    all[status] = [...(all[status] ?? []), ...examples];
  };
  if (options.auth ?? true) {
    add(401, [ERR.missingToken, ERR.expiredToken, ERR.badSignature, ERR.revokedToken]);
    add(429, [ERR.rateLimited]);
  }
  add(500, [ERR.internal]);
  if (options.database ?? true) add(503, [ERR.databaseDown, ERR.databaseBusy]);
  const descriptions = { ...options.descriptions };
  if (options.audited !== undefined) {
    add(503, [options.audited === 'change' ? ERR.auditUnavailableChange : ERR.auditUnavailableRead]);
    descriptions[503] ??=
      options.audited === 'change'
        ? 'The database is unreachable, or (AUDIT_UNAVAILABLE) the audit trail could not be written, so the change was not made; retry after Retry-After seconds'
        : 'The database is unreachable, or (AUDIT_UNAVAILABLE) the audit trail could not be written, so no secret was sent; retry after Retry-After seconds';
  }
  for (const [status, examples] of Object.entries(cases)) add(Number(status) as ErrorStatus, examples);

  const statuses = (Object.keys(all).map(Number) as ErrorStatus[]).sort((a, b) => a - b);
  return applyDecorators(
    ...statuses.map((status) => {
      const examples = all[status]!;
      for (const example of examples) {
        if (!(ERROR_CODES[status] as readonly string[]).includes(example.code)) {
          throw new Error(`OpenAPI: code ${example.code} is not one of the ${status} codes`);
        }
      }
      const headerNames = status === 401 ? ['WWW-Authenticate'] : status === 429 || status === 503 ? ['Retry-After'] : [];
      return ApiResponse({
        status,
        description: descriptions[status] ?? DESCRIPTIONS[status],
        headers: responseHeaders(...headerNames),
        schema: { $ref: `#/components/schemas/${errorSchemaName(status)}` },
        examples: Object.fromEntries(
          examples.map((example, index) => [
            exampleKey(example, index, examples),
            {
              summary: example.summary,
              value: {
                error: example.error,
                code: example.code,
                ...(example.details ? { details: example.details } : {}),
                requestId: REQUEST_ID_EXAMPLE,
              },
            },
          ]),
        ),
      });
    }),
  );
}

/** A stable, readable key for a named example: its summary in kebab-case, numbered if two share one. */
function exampleKey(example: { summary: string }, index: number, all: readonly { summary: string }[]): string {
  const slug = (text: string): string =>
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '');
  const key = slug(example.summary);
  return all.findIndex((other) => slug(other.summary) === key) === index ? key : `${key}-${index + 1}`;
}

/** A path id parameter (`iid`, `id`), with the id rules. */
export const ID_SCHEMA: SchemaObject = { type: 'string', pattern: RESOURCE_ID_PATTERN.source };

// ---- the token endpoint's errors (RFC 6749 §5.2) ----

/**
 * The `error` codes of the token endpoint's RFC 6749 §5.2 bodies, by status:
 * what OAuthError answers (invalid_client is the 401, the others are 400s).
 * Its other failures (413, 415, 429, 500, 503) have the API's error bodies.
 */
export const OAUTH_ERROR_CODES = {
  400: ['invalid_request', 'invalid_grant', 'unsupported_grant_type', 'invalid_scope'],
  401: ['invalid_client'],
} as const satisfies Record<number, readonly OAuthErrorCode[]>;

export type OAuthErrorStatus = keyof typeof OAUTH_ERROR_CODES;

/** Name of the component schema of the token endpoint's error body of a status. */
export const oauthErrorSchemaName = (status: OAuthErrorStatus): string => `OAuthError${status}`;

const OAUTH_DESCRIPTIONS: Record<OAuthErrorStatus, string> = {
  400:
    'RFC 6749 §5.2: invalid_request (not form-encoded, malformed, a parameter missing or sent twice, two client authentications), ' +
    'unsupported_grant_type, invalid_scope, or invalid_grant (a secret replaced by a rotation, past its overlap)',
  401: 'RFC 6749 §5.2 invalid_client: client authentication failed (unknown client, wrong secret, no or malformed credentials)',
};

/** Component schemas of the token endpoint's error bodies: `OAuthError400`, `OAuthError401`. */
export function oauthErrorSchemas(): Record<string, SchemaObject> {
  const schemas: Record<string, SchemaObject> = {};
  for (const [status, codes] of Object.entries(OAUTH_ERROR_CODES)) {
    schemas[oauthErrorSchemaName(Number(status) as OAuthErrorStatus)] = {
      type: 'object',
      description: `The error body of a ${status} of the token endpoint (RFC 6749 §5.2), with the request id`,
      required: ['error', 'error_description', 'requestId'],
      additionalProperties: false,
      properties: {
        error: { type: 'string', enum: [...codes], description: 'The RFC 6749 §5.2 error code' },
        error_description: { type: 'string', description: 'Human-readable text: what was wrong with the request' },
        requestId: { type: 'string', description: 'Also in the X-Request-Id header; quote it to an operator' },
      },
    };
  }
  return schemas;
}

/** One answer of the token endpoint as a named example: the code and description of a real OAuthError. */
export interface OAuthErrorExample {
  summary: string;
  status: number;
  error: OAuthErrorCode;
  description: string;
}

/** An example built from the OAuthError the token endpoint really throws. */
export function oauthExampleOf(summary: string, error: OAuthError): OAuthErrorExample {
  return { summary, status: error.status, error: error.code, description: error.message };
}

/**
 * Documents the RFC 6749 §5.2 answers of the token endpoint: each status
 * (taken from the errors themselves) with its schema, its headers (the 401's
 * `WWW-Authenticate: Basic`) and the real descriptions as named examples.
 */
export function ApiOAuthErrors(examples: readonly OAuthErrorExample[]): MethodDecorator {
  const statuses = [...new Set(examples.map((example) => example.status))].sort((a, b) => a - b);
  return applyDecorators(
    ...statuses.map((status) => {
      if (!(status in OAUTH_ERROR_CODES)) throw new Error(`OpenAPI: ${status} is not a status of the token endpoint's errors`);
      const own = examples.filter((example) => example.status === status);
      for (const example of own) {
        if (!(OAUTH_ERROR_CODES[status as OAuthErrorStatus] as readonly string[]).includes(example.error)) {
          throw new Error(`OpenAPI: ${example.error} is not one of the ${status} codes of the token endpoint`);
        }
      }
      const headers = responseHeaders();
      if (status === 401) {
        headers['WWW-Authenticate'] = {
          description: 'The client may authenticate with HTTP Basic (RFC 6749 §5.2)',
          required: true,
          schema: { type: 'string', enum: ['Basic'] },
        };
      }
      return ApiResponse({
        status,
        description: OAUTH_DESCRIPTIONS[status as OAuthErrorStatus],
        headers,
        schema: { $ref: `#/components/schemas/${oauthErrorSchemaName(status as OAuthErrorStatus)}` },
        examples: Object.fromEntries(
          own.map((example, index) => [
            exampleKey(example, index, own),
            {
              summary: example.summary,
              value: { error: example.error, error_description: example.description, requestId: REQUEST_ID_EXAMPLE },
            },
          ]),
        ),
      });
    }),
  );
}
