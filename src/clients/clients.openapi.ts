import { applyDecorators } from '@nestjs/common';
import { ApiErrorExamples } from '../common/openapi';

/** Examples of what every protected route can answer, with the real messages. */
const UNAUTHENTICATED = {
  'no token': { error: 'Missing bearer token (Authorization: Bearer <JWT>)', code: 'UNAUTHENTICATED' },
  expired: { error: 'Token has expired', code: 'UNAUTHENTICATED' },
  'revoked client': { error: 'Token has been revoked: its API client was deleted', code: 'UNAUTHENTICATED' },
};
const RATE_LIMITED = { 'rate limit': { error: 'Rate limit reached; retry after 42 s', code: 'RATE_LIMITED' } };
const INTERNAL = { unexpected: { error: 'Internal error; quote the request id to an operator', code: 'INTERNAL' } };
const UNAVAILABLE = { 'database down': { error: 'The database is unreachable; retry shortly', code: 'DATABASE_UNAVAILABLE' } };
const TENANT_ID = 'iid in the path must be 1-64 characters of letters, digits, ".", "_" or "-"';
const CLIENT_ID = 'clientId in the path must be 1-64 characters of letters, digits, ".", "_" or "-"';

const forbidden = (extra: Record<string, { error: string; code: string }> = {}) =>
  ApiErrorExamples(
    403,
    {
      'missing scope': { error: "This token lacks the scope 'clients:write'", code: 'FORBIDDEN' },
      'another tenant': { error: "This token may not access tenant 'acme'", code: 'FORBIDDEN' },
      ...extra,
    },
    { description: 'The token lacks clients:write, or the tenant is not among its tenants' + (Object.keys(extra).length > 0 ? ', or it asks for a scope the token does not hold' : '') },
  );

const notFound = (client: boolean) =>
  ApiErrorExamples(
    404,
    {
      'no tenant': { error: "Tenant 'acme' does not exist or has been deleted", code: 'TENANT_NOT_FOUND' },
      ...(client ? { 'no client': { error: "API client 'ic-5f0c2a9d81e34b7a6c0d1e2f' does not exist in tenant 'acme'", code: 'API_CLIENT_NOT_FOUND' } } : {}),
    },
    { description: client ? 'The tenant does not exist or has been deleted, or it has no such API client' : 'The tenant does not exist or has been deleted' },
  );

const common = () =>
  [ApiErrorExamples(401, UNAUTHENTICATED), ApiErrorExamples(429, RATE_LIMITED), ApiErrorExamples(500, INTERNAL), ApiErrorExamples(503, UNAVAILABLE)];

/** The errors of POST /tenants/:iid/api-clients. */
export const ApiCreateClientErrors = (): MethodDecorator =>
  applyDecorators(
    ApiErrorExamples(400, {
      'bad tenant id': { error: TENANT_ID, code: 'VALIDATION_FAILED' },
      'unknown scope': {
        error: "Validation failed (scope: unknown scope 'integrations:delete'; an API client may hold integrations:read, integrations:write, integrations:secrets, clients:write)",
        code: 'VALIDATION_FAILED',
      },
      'platform:admin': { error: 'Validation failed (scope: an API client cannot hold platform:admin: its tokens reach only its tenant)', code: 'VALIDATION_FAILED' },
      'missing name': {
        error: 'Validation failed (missing or invalid: name)',
        code: 'VALIDATION_FAILED',
        details: [{ field: 'name', message: 'name must be shorter than or equal to 200 characters; name should not be empty; name must be a string' }],
      },
      'unknown field': {
        error: 'Validation failed (unknown field: extra)',
        code: 'VALIDATION_FAILED',
        details: [{ field: 'extra', message: 'property extra should not exist' }],
      },
      'malformed JSON': { error: "Body is not valid JSON but content-type is set to 'application/json'", code: 'BAD_REQUEST' },
    }, { description: 'Malformed JSON, an invalid name or scope, an unknown field, or a malformed tenant id' }),
    forbidden({ 'scope it may not grant': { error: "This token may not grant the scope 'integrations:secrets': it does not hold it", code: 'FORBIDDEN' } }),
    notFound(false),
    ApiErrorExamples(413, { 'too large': { error: 'Request body is too large', code: 'PAYLOAD_TOO_LARGE' } }),
    ApiErrorExamples(415, { 'not JSON': { error: 'Unsupported Media Type', code: 'UNSUPPORTED_MEDIA_TYPE' } }),
    ...common(),
  );

/** The errors of GET /tenants/:iid/api-clients. */
export const ApiListClientsErrors = (): MethodDecorator =>
  applyDecorators(
    ApiErrorExamples(400, {
      'bad tenant id': { error: TENANT_ID, code: 'VALIDATION_FAILED' },
      'bad page': { error: 'Validation failed (limit)', code: 'VALIDATION_FAILED', details: [{ field: 'limit', message: 'limit must be an integer from 1 to 1000' }] },
    }, { description: 'A malformed tenant id, or limit/offset out of bounds' }),
    forbidden(),
    notFound(false),
    ...common(),
  );

/** The errors of the routes on one client (GET, DELETE, POST …/secret). */
export const ApiOneClientErrors = (): MethodDecorator =>
  applyDecorators(
    ApiErrorExamples(400, {
      'bad tenant id': { error: TENANT_ID, code: 'VALIDATION_FAILED' },
      'bad client id': { error: CLIENT_ID, code: 'VALIDATION_FAILED' },
    }, { description: 'A malformed tenant or client id' }),
    forbidden(),
    notFound(true),
    ...common(),
  );
