import type { SchemaObject } from '@nestjs/swagger';
import { CLIENT_SCOPES } from '../auth/scopes';
import {
  ApiClientNotFoundError,
  ForbiddenError,
  OAuthError,
  RateLimitedError,
  TenantNotFoundError,
  ValidationFailedError,
} from '../common/errors/domain-errors';
import { ERR, exampleOf, oauthExampleOf, type ErrorExample, type OAuthErrorExample } from '../common/openapi';
import { RESOURCE_ID_PATTERN } from '../common/validation/resource-id';

/*
 * The OpenAPI side of issue 13's routes, in issue 17's conventions: the error
 * cases with the messages the service really sends (the OAuth ones of the
 * token endpoint as RFC 6749 §5.2 bodies), and the schemas of the token
 * endpoint, the JWKS and the RFC 8414 metadata, closed like every other.
 */

/** A space-separated list of the scopes an API client may hold (what ApiClientsService accepts, and nothing else). */
const ONE_SCOPE = `(?:${CLIENT_SCOPES.map((scope) => scope.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`;
export const CLIENT_SCOPE_PATTERN = `^ *${ONE_SCOPE}(?: +${ONE_SCOPE})* *$`;

/** What newClientId and newClientSecret make (client-secret.ts). */
export const CLIENT_ID_PATTERN = '^ic-[0-9a-f]{24}$';
export const CLIENT_SECRET_PATTERN = '^ics-[A-Za-z0-9_-]{43}$';

const scopeRefusal = (why: string): ValidationFailedError =>
  new ValidationFailedError(`Validation failed (scope: ${why})`, [{ field: 'scope', message: why }]);

/** The error cases of the API-client routes. */
export const CLIENT_ERRORS = {
  badIid: ERR.badPathId('iid'),
  badClientId: ERR.badPathId('clientId'),
  clientsWrite: ERR.lacksScope('clients:write'),
  mayNotGrant: exampleOf(
    'a scope the caller does not hold',
    new ForbiddenError("This token may not grant the scope 'integrations:secrets': it does not hold it"),
  ),
  tenant: exampleOf('no such tenant', new TenantNotFoundError('acme')),
  client: exampleOf('no such API client', new ApiClientNotFoundError('acme', 'ic-5f0c2a9d81e34b7a6c0d1e2f')),
  unknownScope: exampleOf(
    'unknown scope',
    scopeRefusal(`unknown scope 'integrations:delete'; an API client may hold ${CLIENT_SCOPES.join(', ')}`),
  ),
  adminScope: exampleOf('platform:admin', scopeRefusal('an API client cannot hold platform:admin: its tokens reach only its tenant')),
  missingName: exampleOf(
    'missing name',
    new ValidationFailedError('Validation failed (missing or invalid: name)', [
      { field: 'name', message: 'name must be shorter than or equal to 200 characters; name should not be empty; name must be a string' },
    ]),
  ),
  unknownField: exampleOf(
    'unknown field',
    new ValidationFailedError('Validation failed (unknown field: extra)', [{ field: 'extra', message: 'property extra should not exist' }]),
  ),
} satisfies Record<string, ErrorExample>;

/** The token endpoint's RFC 6749 §5.2 answers, with TokenService's own words. */
export const TOKEN_OAUTH_ERRORS: OAuthErrorExample[] = [
  oauthExampleOf(
    'not form-encoded',
    new OAuthError('invalid_request', 'The token endpoint takes its parameters as application/x-www-form-urlencoded (RFC 6749 §4.4.2)'),
  ),
  oauthExampleOf(
    'malformed JSON',
    new OAuthError('invalid_request', "Body is not valid JSON but content-type is set to 'application/json'"),
  ),
  oauthExampleOf(
    'empty JSON body',
    new OAuthError('invalid_request', "Body cannot be empty when content-type is set to 'application/json'"),
  ),
  oauthExampleOf('no grant_type', new OAuthError('invalid_request', 'grant_type is missing; send grant_type=client_credentials')),
  oauthExampleOf('a parameter sent twice', new OAuthError('invalid_request', "Parameter 'scope' is sent more than once")),
  oauthExampleOf(
    'two client authentications',
    new OAuthError('invalid_request', 'Use one client authentication method: HTTP Basic or client_secret, not both'),
  ),
  oauthExampleOf(
    'client_id other than Basic',
    new OAuthError('invalid_request', 'client_id differs from the client of the Basic credentials'),
  ),
  oauthExampleOf(
    'another grant type',
    new OAuthError('unsupported_grant_type', "Only grant_type=client_credentials is supported (got 'password')"),
  ),
  oauthExampleOf('a scope beyond the client', new OAuthError('invalid_scope', "The client may not request the scope 'integrations:write'")),
  oauthExampleOf('empty scope', new OAuthError('invalid_scope', 'scope is empty; leave it out to get every scope of the client')),
  oauthExampleOf(
    'a replaced secret',
    new OAuthError('invalid_grant', 'This client secret was replaced; it stopped working at 2026-11-30T10:00:00.000Z'),
  ),
  oauthExampleOf('wrong secret or unknown client', new OAuthError('invalid_client', 'Client authentication failed')),
  oauthExampleOf(
    'no credentials',
    new OAuthError(
      'invalid_client',
      'Client authentication failed: send the client id and secret with HTTP Basic or as client_id and client_secret',
    ),
  ),
  oauthExampleOf(
    'Basic credentials not id:secret',
    new OAuthError('invalid_client', 'Client authentication failed: the Basic credentials are not client_id:client_secret'),
  ),
];

/** The token endpoint's other failures, in the API's error format. */
export const TOKEN_ERRORS = {
  tooManyFailures: exampleOf('too many failed authentications', new RateLimitedError(42)),
} satisfies Record<string, ErrorExample>;

export const TOKEN_REQUEST_REF = { $ref: '#/components/schemas/TokenRequest' };
export const TOKEN_RESPONSE_REF = { $ref: '#/components/schemas/TokenResponse' };
export const JWKS_REF = { $ref: '#/components/schemas/JsonWebKeySet' };
export const METADATA_REF = { $ref: '#/components/schemas/AuthorizationServerMetadata' };

const BASE64URL_COORDINATE: SchemaObject = { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' };

/** Component schemas of the token endpoint and /.well-known (merged into the document by buildOpenApiDocument). */
export function clientSchemas(): Record<string, SchemaObject> {
  return {
    TokenRequest: {
      type: 'object',
      description:
        'RFC 6749 §4.4.2, as application/x-www-form-urlencoded. The client authenticates with HTTP Basic or with client_id and ' +
        'client_secret (§2.3.1), not both. No parameter may be sent twice; an empty one counts as left out, and parameters the ' +
        'endpoint does not know are ignored (§3.1).',
      required: ['grant_type'],
      properties: {
        grant_type: { type: 'string', enum: ['client_credentials'] },
        scope: {
          type: 'string',
          description: "Space-separated subset of the client's scope; all of it when left out",
          example: 'integrations:read',
        },
        client_id: {
          type: 'string',
          pattern: RESOURCE_ID_PATTERN.source,
          description: 'With client_secret, instead of HTTP Basic; beside HTTP Basic it must name the same client',
          example: 'ic-5f0c2a9d81e34b7a6c0d1e2f',
        },
        client_secret: { type: 'string', format: 'password', description: 'With client_id, instead of HTTP Basic' },
      },
      additionalProperties: { type: 'string' },
    },
    TokenResponse: {
      type: 'object',
      description: 'RFC 6749 §5.1',
      required: ['access_token', 'token_type', 'expires_in', 'scope'],
      additionalProperties: false,
      properties: {
        access_token: {
          type: 'string',
          description: "A JWT (ES256) for `Authorization: Bearer`, reaching only the client's tenant",
          example: 'eyJhbGciOiJFUzI1NiIsImtpZCI6…',
        },
        token_type: { type: 'string', enum: ['Bearer'] },
        expires_in: { type: 'integer', minimum: 1, description: 'Seconds (TOKEN_TTL)', example: 900 },
        scope: { type: 'string', description: 'The scopes the token carries', example: 'integrations:read integrations:secrets' },
      },
    },
    JsonWebKeySet: {
      type: 'object',
      description: "RFC 7517: the service's token-signing public keys, the one that signs new tokens first",
      required: ['keys'],
      additionalProperties: false,
      properties: { keys: { type: 'array', items: { $ref: '#/components/schemas/JsonWebKey' } } },
    },
    JsonWebKey: {
      type: 'object',
      description: 'An EC P-256 public key for ES256 signatures (RFC 7518 §6.2.1)',
      required: ['kty', 'crv', 'x', 'y', 'kid', 'use', 'alg'],
      additionalProperties: false,
      properties: {
        kty: { type: 'string', enum: ['EC'] },
        crv: { type: 'string', enum: ['P-256'] },
        x: { ...BASE64URL_COORDINATE, example: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU' },
        y: { ...BASE64URL_COORDINATE, example: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' },
        kid: { type: 'string', description: 'The `kid` header of the tokens it signs', example: '20261129-3fa2c1d4e5f60718' },
        use: { type: 'string', enum: ['sig'] },
        alg: { type: 'string', enum: ['ES256'] },
      },
    },
    AuthorizationServerMetadata: {
      type: 'object',
      description: 'RFC 8414, as far as this server has any (no authorization endpoint: client credentials only)',
      required: [
        'issuer',
        'token_endpoint',
        'jwks_uri',
        'grant_types_supported',
        'token_endpoint_auth_methods_supported',
        'response_types_supported',
        'scopes_supported',
        'service_documentation',
      ],
      additionalProperties: false,
      properties: {
        issuer: { type: 'string', description: 'TOKEN_ISSUER', example: 'https://integrations.example.com' },
        token_endpoint: { type: 'string', example: 'https://integrations.example.com/token' },
        jwks_uri: { type: 'string', example: 'https://integrations.example.com/.well-known/jwks.json' },
        grant_types_supported: { type: 'array', items: { type: 'string', enum: ['client_credentials'] } },
        token_endpoint_auth_methods_supported: {
          type: 'array',
          items: { type: 'string', enum: ['client_secret_basic', 'client_secret_post'] },
        },
        response_types_supported: { type: 'array', items: { type: 'string' }, maxItems: 0 },
        scopes_supported: { type: 'array', items: { type: 'string', enum: [...CLIENT_SCOPES] } },
        service_documentation: { type: 'string', example: 'https://integrations.example.com/docs' },
      },
    },
  };
}
