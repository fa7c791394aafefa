import { applyDecorators, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBasicAuth, ApiBody, ApiConsumes, ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../auth/auth.decorators';
import { ApiErrorExamples } from '../common/openapi';
import { FormParameters } from './form-body';
import { TokenService, type TokenResponse } from './token.service';

/** RFC 6749 §5.2's error body. */
const OAUTH_ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'string',
      enum: ['invalid_request', 'invalid_client', 'invalid_grant', 'unsupported_grant_type', 'invalid_scope'],
      example: 'invalid_client',
    },
    error_description: { type: 'string', example: 'Client authentication failed' },
    requestId: { type: 'string', example: 'c0a8012e-5d1f-4c55-9a87-7a7d1f0c2f4b' },
  },
};

const TOKEN_RESPONSE_SCHEMA = {
  type: 'object',
  required: ['access_token', 'token_type', 'expires_in', 'scope'],
  properties: {
    access_token: { type: 'string', description: 'A JWT (ES256) for `Authorization: Bearer`, reaching only the client’s tenant', example: 'eyJhbGciOiJFUzI1NiIsImtpZCI6…' },
    token_type: { type: 'string', enum: ['Bearer'], example: 'Bearer' },
    expires_in: { type: 'integer', description: 'Seconds (TOKEN_TTL)', example: 900 },
    scope: { type: 'string', example: 'integrations:read integrations:secrets' },
  },
};

const FORM_SCHEMA = {
  type: 'object',
  required: ['grant_type'],
  properties: {
    grant_type: { type: 'string', enum: ['client_credentials'] },
    scope: { type: 'string', description: 'Space-separated subset of the client’s scope; all of it when left out', example: 'integrations:read' },
    client_id: { type: 'string', description: 'With client_secret, instead of HTTP Basic (RFC 6749 §2.3.1)' },
    client_secret: { type: 'string', format: 'password' },
  },
};

/** The OpenAPI side of both paths of the token endpoint. */
function ApiTokenEndpoint(summary: string): MethodDecorator {
  return applyDecorators(
    ApiOperation({
      summary,
      description:
        'Client authentication by HTTP Basic (client id and secret, each form-encoded) or by `client_id` and `client_secret` form fields. ' +
        'Failed authentications are limited per client id and per address (429 with Retry-After).',
    }),
    ApiBasicAuth('client'),
    ApiConsumes('application/x-www-form-urlencoded'),
    ApiProduces('application/json'),
    ApiBody({ schema: FORM_SCHEMA }),
    ApiResponse({
      status: 200,
      description: 'The access token (RFC 6749 §5.1)',
      headers: {
        'Cache-Control': { description: 'Never cached (RFC 6749 §5.1)', schema: { type: 'string', example: 'no-store' } },
        Pragma: { description: 'For HTTP/1.0 caches (RFC 6749 §5.1)', schema: { type: 'string', example: 'no-cache' } },
      },
      content: { 'application/json': { schema: TOKEN_RESPONSE_SCHEMA } },
    }),
    ApiErrorExamples(
      400,
      {
        'not form-encoded': { error: 'invalid_request', error_description: 'The token endpoint takes its parameters as application/x-www-form-urlencoded (RFC 6749 §4.4.2)' },
        'no grant_type': { error: 'invalid_request', error_description: 'grant_type is missing; send grant_type=client_credentials' },
        'repeated parameter': { error: 'invalid_request', error_description: "Parameter 'scope' is sent more than once" },
        'two authentication methods': { error: 'invalid_request', error_description: 'Use one client authentication method: HTTP Basic or client_secret, not both' },
        'another grant type': { error: 'unsupported_grant_type', error_description: "Only grant_type=client_credentials is supported (got 'password')" },
        'scope beyond the client': { error: 'invalid_scope', error_description: "The client may not request the scope 'integrations:write'" },
        'replaced secret': { error: 'invalid_grant', error_description: 'This client secret was replaced; it stopped working at 2026-11-30T10:00:00.000Z' },
      },
      { description: 'RFC 6749 §5.2: invalid_request, unsupported_grant_type, invalid_scope, invalid_grant', schema: OAUTH_ERROR_SCHEMA, headers: {} },
    ),
    ApiErrorExamples(
      401,
      {
        'wrong secret or unknown client': { error: 'invalid_client', error_description: 'Client authentication failed' },
        'no credentials': {
          error: 'invalid_client',
          error_description: 'Client authentication failed: send the client id and secret with HTTP Basic or as client_id and client_secret',
        },
      },
      {
        description: 'RFC 6749 §5.2 invalid_client',
        schema: OAUTH_ERROR_SCHEMA,
        headers: { 'WWW-Authenticate': { description: 'HTTP Basic is how a client authenticates', schema: { type: 'string', example: 'Basic' } } },
      },
    ),
    ApiErrorExamples(413, { 'too large': { error: 'Request body is too large', code: 'PAYLOAD_TOO_LARGE' } }),
    ApiErrorExamples(415, { 'neither form nor JSON': { error: 'Unsupported Media Type', code: 'UNSUPPORTED_MEDIA_TYPE' } }),
    ApiErrorExamples(429, { 'too many failures': { error: 'Rate limit reached; retry after 42 s', code: 'RATE_LIMITED' } }),
    ApiErrorExamples(500, { unexpected: { error: 'Internal error; quote the request id to an operator', code: 'INTERNAL' } }),
    ApiErrorExamples(503, { 'database down': { error: 'The database is unreachable; retry shortly', code: 'DATABASE_UNAVAILABLE' } }),
  );
}

/**
 * The OAuth 2.0 token endpoint (issue 13; RFC 6749 §4.4, client credentials),
 * at /token as the original's "Retrieve Token" request calls it, and at
 * /oauth/token. Public: the client authenticates with its own credentials.
 * Form-encoded only (the one route that parses such bodies).
 */
@ApiTags('oauth')
@Public()
@Controller()
export class TokenController {
  constructor(private readonly tokens: TokenService) {}

  @Post('token')
  @HttpCode(200)
  @ApiTokenEndpoint('An access token for an API client (OAuth 2.0 client credentials)')
  token(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<TokenResponse> {
    return this.issue(request, reply);
  }

  /** The same endpoint at the path many OAuth clients expect. */
  @Post('oauth/token')
  @HttpCode(200)
  @ApiTokenEndpoint('The same as POST /token')
  oauthToken(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<TokenResponse> {
    return this.issue(request, reply);
  }

  private async issue(request: FastifyRequest, reply: FastifyReply): Promise<TokenResponse> {
    const answer = await this.tokens.issue({
      form: request.body instanceof FormParameters ? request.body : undefined,
      authorization: request.headers.authorization,
      address: request.ip,
    });
    // Cache-Control: no-store is on every answer already (app.setup.ts); RFC 6749 §5.1 also asks for this one.
    reply.header('pragma', 'no-cache');
    return answer;
  }
}
