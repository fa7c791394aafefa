import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Patch, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ActsOnTenant, CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import { mayRevealSecrets, Scope, type Principal } from '../auth/scopes';
import { ApiErrors, ERR, ID_SCHEMA, responseHeaders } from '../common/openapi';
import { ApiPageQuery, Page, type PageQuery } from '../common/pagination';
import { Actor, type RequestActor } from '../common/request-actor';
import { ResourceIdPipe } from '../common/pipes/resource-id.pipe';
import { IntegrationBody, IntegrationBodyPipe } from './integration-body.pipe';
import type { IntegrationInput } from './integration-body.validator';
import {
  ApiIntegrationBody,
  ApiIntegrationPatchBody,
  ApiIntegrationResponse,
  ApiReplacedOrDryRun,
  INTEGRATION_ERRORS as E,
  WRITE_ERRORS,
  SECRET_READ_503,
  CHANGE_503,
} from './integrations.openapi';
import { IntegrationsService, type PutOptions, type ReadOptions } from './integrations.service';
import { ReadAs } from './read-options.decorator';
import { DryRun } from './verification/dry-run';
import { toVerificationWire, type VerificationWire } from './verification/verification-result';
import type { IntegrationWire } from './wire-format';

const IF_MATCH = {
  name: 'If-Match',
  required: false,
  description:
    'ETag of your last read (or *); the write fails with 412 if it changed since. Required for writes to existing integrations when REQUIRE_IF_MATCH=true (428)',
  schema: { type: 'string' },
};

@ApiTags('integrations')
@ApiBearerAuth()
@ApiParam({ name: 'iid', description: 'Tenant id', schema: ID_SCHEMA })
@Controller('tenants/:iid/integrations')
@ActsOnTenant('iid')
// `:iid` needs no pipe: JwtAuthGuard checks it (id rules, and the token's tenants) before any pipe runs.
export class IntegrationsController {
  constructor(private readonly integrations: IntegrationsService) {}

  @Get()
  @RequireScope(Scope.IntegrationsRead)
  @ApiOperation({
    summary: "The tenant's integrations, sorted by id",
    description: 'Secrets are masked unless the token has integrations:secrets.',
  })
  @ApiIntegrationResponse(200, 'The integrations in the wire format; X-Total-Count is the number in all pages', true)
  @ApiPageQuery()
  @ApiErrors({
    400: [E.badIid, ERR.badUrl, ERR.badPage],
    403: [E.read, ERR.foreignTenant],
    404: [E.tenant],
    500: [ERR.secretUnreadable],
    503: [E.keyRotated],
  }, SECRET_READ_503)
  async list(
    @Param('iid') iid: string,
    @Page() page: PageQuery,
    @ReadAs() reading: ReadOptions,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<IntegrationWire[]> {
    const { items, total } = await this.integrations.list(iid, page.limit, page.offset, reading);
    reply.header('x-total-count', String(total));
    return items;
  }

  @Get(':id')
  @RequireScope(Scope.IntegrationsRead)
  @ApiOperation({ summary: 'One integration', description: 'Secrets are masked unless the token has integrations:secrets.' })
  @ApiParam({ name: 'id', description: 'Integration id', schema: ID_SCHEMA })
  @ApiIntegrationResponse(200, 'The integration; its ETag header is its version')
  @ApiErrors({
    400: [E.badIid, ERR.badUrl, E.badId],
    403: [E.read, ERR.foreignTenant],
    404: [E.tenant, E.integration],
    500: [ERR.secretUnreadable],
    503: [E.keyRotated],
  }, SECRET_READ_503)
  async get(
    @Param('iid') iid: string,
    @Param('id', ResourceIdPipe) id: string,
    @ReadAs() reading: ReadOptions,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<IntegrationWire> {
    const { wire, etag } = await this.integrations.get(iid, id, reading);
    reply.header('etag', etag);
    return wire;
  }

  @Post(':id')
  @RequireScope(Scope.IntegrationsWrite)
  @ApiOperation({
    summary: 'Create (201) or replace (200) an integration',
    description:
      'Body `id`, if sent, must equal the path id. `type` may be left out when the id is a vendor type (then type = id); ' +
      'with neither `id` nor `type` in the body, the path id names the vendor. A secret sent as "********" keeps its stored value.',
  })
  @ApiParam({ name: 'id', description: 'Integration id', schema: ID_SCHEMA })
  @ApiHeader(IF_MATCH)
  @ApiIntegrationBody('path')
  @ApiIntegrationResponse(201, 'Created; the body echoes what was sent, with `type`')
  @ApiReplacedOrDryRun()
  @ApiErrors({
    ...WRITE_ERRORS,
    400: [
      E.badIid,
      ERR.badUrl,
      E.badId,
      E.unknownField,
      E.missingField,
      E.idMismatch,
      E.typeRequired,
      E.dryRunFlag,
      ERR.malformedJson,
      ERR.emptyBody,
    ],
    404: [E.tenant],
  }, CHANGE_503)
  async putById(
    @Param('iid') iid: string,
    @Param('id', ResourceIdPipe) _id: string,
    @IntegrationBody(IntegrationBodyPipe) input: IntegrationInput,
    @DryRun() dryRun: boolean,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Actor() actor: RequestActor,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<IntegrationWire | VerificationWire> {
    return this.put(iid, input, { dryRun, ifMatch, reveal: mayRevealSecrets(principal), actor }, reply);
  }

  @Post()
  @RequireScope(Scope.IntegrationsWrite)
  @ApiOperation({
    summary: 'Create (201) or replace (200) an integration, its id taken from the body',
    description: 'The form the original clients used. `type` may be left out when the id is a vendor type (then type = id).',
  })
  @ApiHeader(IF_MATCH)
  @ApiIntegrationBody('collection')
  @ApiIntegrationResponse(201, 'Created; the body echoes what was sent, with `type`')
  @ApiReplacedOrDryRun()
  @ApiErrors({
    ...WRITE_ERRORS,
    400: [E.badIid, ERR.badUrl, E.unknownField, E.missingField, E.typeRequired, E.dryRunFlag, ERR.malformedJson, ERR.emptyBody],
    404: [E.tenant],
  }, CHANGE_503)
  async putFromBody(
    @Param('iid') iid: string,
    @IntegrationBody(IntegrationBodyPipe) input: IntegrationInput,
    @DryRun() dryRun: boolean,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Actor() actor: RequestActor,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<IntegrationWire | VerificationWire> {
    return this.put(iid, input, { dryRun, ifMatch, reveal: mayRevealSecrets(principal), actor }, reply);
  }

  @Patch(':id')
  @RequireScope(Scope.IntegrationsWrite)
  @ApiOperation({
    summary: 'Change some fields of an integration',
    description: 'Fields left out keep their values; null clears an optional field; type cannot change.',
  })
  @ApiParam({ name: 'id', description: 'Integration id', schema: ID_SCHEMA })
  @ApiHeader(IF_MATCH)
  @ApiIntegrationPatchBody()
  @ApiIntegrationResponse(
    200,
    'The integration after the change (secrets sent are echoed, the others masked unless the token has integrations:secrets)',
  )
  @ApiErrors({
    ...WRITE_ERRORS,
    400: [E.badIid, ERR.badUrl, E.badId, E.unknownField, E.missingField, E.typeChange, ERR.malformedJson, ERR.emptyBody],
    404: [E.tenant, E.integration],
  }, CHANGE_503)
  async patch(
    @Param('iid') iid: string,
    @Param('id', ResourceIdPipe) id: string,
    @Body() body: unknown,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Actor() actor: RequestActor,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<IntegrationWire> {
    const { wire, etag } = await this.integrations.patch(iid, id, body, { ifMatch, reveal: mayRevealSecrets(principal), actor });
    reply.header('etag', etag);
    return wire;
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScope(Scope.IntegrationsWrite)
  @ApiOperation({
    summary: 'Remove an integration',
    description: 'Its versions stay (GET …/versions), so it can be restored for HISTORY_RETENTION_DAYS.',
  })
  @ApiParam({ name: 'id', description: 'Integration id', schema: ID_SCHEMA })
  @ApiHeader(IF_MATCH)
  @ApiResponse({ status: 204, description: 'Removed; no body', headers: responseHeaders() })
  // A DELETE with a body gets it parsed like any other (400 malformed, 413, 415).
  @ApiErrors({
    400: [E.badIid, ERR.badUrl, E.badId, ERR.malformedJson],
    403: [E.write, ERR.foreignTenant],
    404: [E.tenant, E.integration],
    409: [E.conflict],
    412: [E.stale],
    413: [ERR.tooLarge],
    415: [ERR.notJson],
    428: [E.ifMatchRequired],
  }, CHANGE_503)
  async delete(
    @Param('iid') iid: string,
    @Param('id', ResourceIdPipe) id: string,
    @Headers('if-match') ifMatch: string | undefined,
    @Actor() actor: RequestActor,
  ): Promise<void> {
    await this.integrations.delete(iid, id, { ifMatch, actor });
  }

  private async put(
    iid: string,
    input: IntegrationInput,
    options: PutOptions,
    reply: FastifyReply,
  ): Promise<IntegrationWire | VerificationWire> {
    const outcome = await this.integrations.put(iid, input, options);
    if (outcome.kind === 'dry-run') {
      reply.status(200);
      return toVerificationWire(outcome.result);
    }
    const { wire, etag, created } = outcome;
    reply.status(created ? 201 : 200).header('etag', etag);
    return wire;
  }
}
