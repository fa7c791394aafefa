import { Body, Controller, Delete, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ActsOnTenant, CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import { Scope, type Principal } from '../auth/scopes';
import { ApiErrors, ERR, ID_SCHEMA, responseHeaders } from '../common/openapi';
import { ApiPageQuery, Page, type PageQuery } from '../common/pagination';
import { ResourceIdPipe } from '../common/pipes/resource-id.pipe';
import { Actor, type RequestActor } from '../common/request-actor';
import { ApiClientsService } from './api-clients.service';
import { CLIENT_ERRORS as E } from './clients.openapi';
import { ApiClientResponse, CreateApiClientDto, CreatedApiClientResponse, RotatedApiClientResponse } from './dto/api-client.dto';

const CLIENT_ID = {
  name: 'clientId',
  description: 'API client id (the client_id of POST /token)',
  example: 'ic-5f0c2a9d81e34b7a6c0d1e2f',
  schema: ID_SCHEMA,
};
const CLIENT_REF = { $ref: '#/components/schemas/ApiClientResponse' };
const FORBIDDEN = 'The token lacks clients:write, or the tenant is not among its tenants';

/**
 * A tenant's API clients (issue 13): systems of the tenant that get their own
 * tokens from POST /token. Managed with clients:write for the tenant (or as a
 * platform admin). The secret is shown once, in the answer that creates it.
 */
@ApiTags('api-clients')
@ApiBearerAuth()
@ApiParam({ name: 'iid', description: 'Tenant id', schema: ID_SCHEMA })
@Controller('tenants/:iid/api-clients')
@ActsOnTenant('iid')
@RequireScope(Scope.ClientsWrite)
export class ApiClientsController {
  constructor(private readonly clients: ApiClientsService) {}

  @Post()
  @ApiOperation({
    summary: 'Create an API client; its secret is shown once',
    description:
      'Its scope can hold only scopes the caller holds (a platform admin may grant them all), never platform:admin. Its tokens reach only this tenant.',
  })
  @ApiResponse({
    status: 201,
    description: 'Created; `client-secret` appears only here',
    type: CreatedApiClientResponse,
    headers: responseHeaders('Cache-Control'),
  })
  @ApiErrors(
    {
      400: [E.badIid, ERR.badUrl, E.missingName, E.unknownScope, E.adminScope, E.unknownField, ERR.malformedJson, ERR.emptyBody],
      403: [E.clientsWrite, ERR.foreignTenant, E.mayNotGrant],
      404: [E.tenant],
      413: [ERR.tooLarge],
      415: [ERR.notJson],
    },
    { descriptions: { 403: `${FORBIDDEN}, or it asks for a scope the token does not hold` }, audited: 'change' },
  )
  create(
    @Param('iid') iid: string,
    @Body() dto: CreateApiClientDto,
    @CurrentPrincipal() principal: Principal,
    @Actor() actor: RequestActor,
  ): Promise<CreatedApiClientResponse> {
    return this.clients.create(iid, dto, principal, actor);
  }

  @Get()
  @ApiOperation({ summary: "The tenant's API clients, oldest first (no secrets)" })
  @ApiResponse({
    status: 200,
    description: 'The clients; X-Total-Count is the number in all pages',
    schema: { type: 'array', items: CLIENT_REF },
    headers: responseHeaders('X-Total-Count'),
  })
  @ApiPageQuery()
  @ApiErrors(
    { 400: [E.badIid, ERR.badUrl, ERR.badPage], 403: [E.clientsWrite, ERR.foreignTenant], 404: [E.tenant] },
    { descriptions: { 403: FORBIDDEN } },
  )
  async list(
    @Param('iid') iid: string,
    @Page() page: PageQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ApiClientResponse[]> {
    const { items, total } = await this.clients.list(iid, page.limit, page.offset);
    reply.header('x-total-count', String(total));
    return items;
  }

  @Get(':clientId')
  @ApiOperation({ summary: 'One API client (no secret)' })
  @ApiParam(CLIENT_ID)
  @ApiResponse({ status: 200, description: 'The client', type: ApiClientResponse, headers: responseHeaders() })
  @ApiErrors(
    { 400: [E.badIid, ERR.badUrl, E.badClientId], 403: [E.clientsWrite, ERR.foreignTenant], 404: [E.tenant, E.client] },
    { descriptions: { 403: FORBIDDEN } },
  )
  get(@Param('iid') iid: string, @Param('clientId', ResourceIdPipe) clientId: string): Promise<ApiClientResponse> {
    return this.clients.get(iid, clientId);
  }

  @Delete(':clientId')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete (revoke) an API client',
    description:
      'Its secret stops working, and the tokens it was issued are refused at once (within about a second on every instance), not when they expire.',
  })
  @ApiParam(CLIENT_ID)
  @ApiResponse({ status: 204, description: 'Deleted; no body', headers: responseHeaders() })
  // A DELETE with a body gets it parsed like any other (400 malformed, 413, 415).
  @ApiErrors(
    {
      400: [E.badIid, ERR.badUrl, E.badClientId, ERR.malformedJson],
      403: [E.clientsWrite, ERR.foreignTenant],
      404: [E.tenant, E.client],
      413: [ERR.tooLarge],
      415: [ERR.notJson],
    },
    { descriptions: { 403: FORBIDDEN }, audited: 'change' },
  )
  async delete(
    @Param('iid') iid: string,
    @Param('clientId', ResourceIdPipe) clientId: string,
    @Actor() actor: RequestActor,
  ): Promise<void> {
    await this.clients.delete(iid, clientId, actor);
  }

  @Post(':clientId/secret')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Rotate the secret: a new one, shown once',
    description:
      'The secret it replaces keeps working until `previous-secret-expires-at` (CLIENT_SECRET_OVERLAP, 24 h by default), so a deployment can roll. ' +
      'Rotating again within the overlap ends the older secret at once.',
  })
  @ApiParam(CLIENT_ID)
  @ApiResponse({
    status: 200,
    description: 'The client with its new secret',
    type: RotatedApiClientResponse,
    headers: responseHeaders('Cache-Control'),
  })
  // It takes no body, but one sent is parsed like any other (400 malformed or empty JSON, 413, 415).
  @ApiErrors(
    {
      400: [E.badIid, ERR.badUrl, E.badClientId, ERR.malformedJson, ERR.emptyBody],
      403: [E.clientsWrite, ERR.foreignTenant],
      404: [E.tenant, E.client],
      413: [ERR.tooLarge],
      415: [ERR.notJson],
    },
    { descriptions: { 403: FORBIDDEN }, audited: 'change' },
  )
  rotateSecret(
    @Param('iid') iid: string,
    @Param('clientId', ResourceIdPipe) clientId: string,
    @Actor() actor: RequestActor,
  ): Promise<RotatedApiClientResponse> {
    return this.clients.rotateSecret(iid, clientId, actor);
  }
}
