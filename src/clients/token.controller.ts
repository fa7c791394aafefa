import { applyDecorators, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBasicAuth, ApiBody, ApiConsumes, ApiOperation, ApiProduces, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../auth/auth.decorators';
import { ApiErrors, ApiOAuthErrors, ERR, responseHeaders } from '../common/openapi';
import { TOKEN_ERRORS, TOKEN_OAUTH_ERRORS, TOKEN_REQUEST_REF, TOKEN_RESPONSE_REF } from './clients.openapi';
import { FormParameters } from './form-body';
import { TokenService, type TokenResponse } from './token.service';

/** The OpenAPI side of both paths of the token endpoint. */
function ApiTokenEndpoint(summary: string): MethodDecorator {
  return applyDecorators(
    ApiOperation({
      summary,
      description:
        'Client authentication by HTTP Basic (client id and secret, each form-encoded) or by `client_id` and `client_secret` form fields. ' +
        'Its own errors are RFC 6749 §5.2 bodies (`{"error": code, "error_description", "requestId"}`); a body too large (413), ' +
        'a content type that is neither form nor JSON (415), too many failed authentications per client id or per address ' +
        '(429 with Retry-After) and server failures (500, 503) have the API error format.',
    }),
    // HTTP Basic, or no Authorization header at all when the client sends client_id and client_secret in the form.
    ApiBasicAuth('client'),
    ApiSecurity({}),
    ApiConsumes('application/x-www-form-urlencoded'),
    ApiProduces('application/json'),
    ApiBody({ schema: TOKEN_REQUEST_REF, required: true }),
    ApiResponse({
      status: 200,
      description: 'The access token (RFC 6749 §5.1), never cached',
      headers: responseHeaders('Cache-Control', 'Pragma'),
      schema: TOKEN_RESPONSE_REF,
    }),
    ApiOAuthErrors(TOKEN_OAUTH_ERRORS),
    ApiErrors(
      { 413: [ERR.tooLarge], 415: [ERR.notJson], 429: [TOKEN_ERRORS.tooManyFailures] },
      {
        auth: false,
        descriptions: {
          415: 'The body is neither application/x-www-form-urlencoded nor JSON (a JSON body gets invalid_request)',
          429:
            'Too many failed client authentications for this client id or from this address (TOKEN_MAX_FAILURES_PER_CLIENT, ' +
            '_PER_ADDRESS in TOKEN_FAILURE_WINDOW_MS); retry after Retry-After seconds',
        },
      },
    ),
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
