import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/auth.decorators';
import { CLIENT_SCOPES } from '../auth/scopes';
import { ApiErrorExamples } from '../common/openapi';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { SigningKeysService, type PublicJwk } from './signing-keys.service';

/** RFC 8414's metadata, as far as this server has any. */
export interface AuthorizationServerMetadata {
  issuer: string;
  token_endpoint: string;
  jwks_uri: string;
  grant_types_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  response_types_supported: string[];
  scopes_supported: string[];
  service_documentation: string;
}

const JWKS_SCHEMA = {
  type: 'object',
  required: ['keys'],
  properties: {
    keys: {
      type: 'array',
      items: {
        type: 'object',
        required: ['kty', 'crv', 'x', 'y', 'kid', 'use', 'alg'],
        properties: {
          kty: { type: 'string', enum: ['EC'] },
          crv: { type: 'string', enum: ['P-256'] },
          x: { type: 'string', example: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU' },
          y: { type: 'string', example: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' },
          kid: { type: 'string', example: '20261129-3fa2c1d4e5f60718' },
          use: { type: 'string', enum: ['sig'] },
          alg: { type: 'string', enum: ['ES256'] },
        },
      },
    },
  },
};

const METADATA_SCHEMA = {
  type: 'object',
  required: ['issuer', 'token_endpoint', 'jwks_uri', 'grant_types_supported', 'token_endpoint_auth_methods_supported', 'response_types_supported'],
  properties: {
    issuer: { type: 'string', example: 'https://integrations.example.com' },
    token_endpoint: { type: 'string', example: 'https://integrations.example.com/token' },
    jwks_uri: { type: 'string', example: 'https://integrations.example.com/.well-known/jwks.json' },
    grant_types_supported: { type: 'array', items: { type: 'string' }, example: ['client_credentials'] },
    token_endpoint_auth_methods_supported: { type: 'array', items: { type: 'string' }, example: ['client_secret_basic', 'client_secret_post'] },
    response_types_supported: { type: 'array', items: { type: 'string' }, example: [] },
    scopes_supported: { type: 'array', items: { type: 'string' }, example: [...CLIENT_SCOPES] },
    service_documentation: { type: 'string', example: 'https://integrations.example.com/docs' },
  },
};

/**
 * What others need to check this service's tokens (RFC 7517) and to find its
 * token endpoint (RFC 8414). Public, and answered from memory.
 */
@ApiTags('oauth')
@Public()
@Controller('.well-known')
export class WellKnownController {
  private readonly metadata: AuthorizationServerMetadata;

  constructor(
    private readonly keys: SigningKeysService,
    @Inject(CONFIGURATION) config: Configuration,
  ) {
    const issuer = config.clients.issuer;
    this.metadata = {
      issuer,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      // No authorization endpoint: no response type is supported.
      response_types_supported: [],
      scopes_supported: [...CLIENT_SCOPES],
      service_documentation: `${issuer}/docs`,
    };
  }

  @Get('jwks.json')
  @ApiOperation({
    summary: "The service's token-signing public keys (JWKS)",
    description: 'The key that signs new tokens comes first; a retired key stays until every token it signed has expired.',
  })
  @ApiResponse({ status: 200, description: 'RFC 7517 JSON Web Key Set', content: { 'application/json': { schema: JWKS_SCHEMA } } })
  @ApiErrorExamples(500, { unexpected: { error: 'Internal error; quote the request id to an operator', code: 'INTERNAL' } })
  jwks(): { keys: PublicJwk[] } {
    return this.keys.jwks();
  }

  @Get('oauth-authorization-server')
  @ApiOperation({ summary: 'Authorization server metadata (RFC 8414)' })
  @ApiResponse({ status: 200, description: 'RFC 8414 metadata', content: { 'application/json': { schema: METADATA_SCHEMA } } })
  @ApiErrorExamples(500, { unexpected: { error: 'Internal error; quote the request id to an operator', code: 'INTERNAL' } })
  authorizationServer(): AuthorizationServerMetadata {
    return this.metadata;
  }
}
