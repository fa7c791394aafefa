import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/auth.decorators';
import { CLIENT_SCOPES } from '../auth/scopes';
import { ApiErrors, responseHeaders } from '../common/openapi';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { JWKS_REF, METADATA_REF } from './clients.openapi';
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
  @ApiResponse({ status: 200, description: 'RFC 7517 JSON Web Key Set', schema: JWKS_REF, headers: responseHeaders() })
  // Answered from memory: no token, no database.
  @ApiErrors({}, { auth: false, database: false })
  jwks(): { keys: PublicJwk[] } {
    return this.keys.jwks();
  }

  @Get('oauth-authorization-server')
  @ApiOperation({ summary: 'Authorization server metadata (RFC 8414)' })
  @ApiResponse({ status: 200, description: 'RFC 8414 metadata', schema: METADATA_REF, headers: responseHeaders() })
  @ApiErrors({}, { auth: false, database: false })
  authorizationServer(): AuthorizationServerMetadata {
    return this.metadata;
  }
}
