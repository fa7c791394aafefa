import { Controller, Get, Headers, Param, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ActsOnTenant, CurrentPrincipal, RequireScope } from '../../auth/auth.decorators';
import { mayRevealSecrets, Scope, type Principal } from '../../auth/scopes';
import { ApiErrors, ERR, ID_SCHEMA, responseHeaders } from '../../common/openapi';
import { ApiPageQuery, Page, type PageQuery } from '../../common/pagination';
import { ResourceIdPipe } from '../../common/pipes/resource-id.pipe';
import { Actor, type RequestActor } from '../../common/request-actor';
import { CHANGE_503, INTEGRATION_ERRORS as E, SECRET_READ_503 } from '../integrations.openapi';
import { IntegrationsService, type ReadOptions } from '../integrations.service';
import { ReadAs } from '../read-options.decorator';
import type { IntegrationWire } from '../wire-format';
import { RevisionPipe } from './revision.pipe';
import type { VersionWire } from './version-wire';
import { ApiRestoredResponse, REVISION_PARAM, VERSION_404, VERSION_ERRORS as V, VERSION_EXAMPLES, VERSION_REF } from './versions.openapi';
import { VersionsService } from './versions.service';

const IF_MATCH = {
  name: 'If-Match',
  required: false,
  description:
    'ETag of your last read of the integration (or *); the restore fails with 412 if it changed since. A deleted integration matches no tag, not even *. ' +
    'Required when REQUIRE_IF_MATCH=true and the integration exists (428)',
  schema: { type: 'string' },
};

/**
 * Versions and rollback: every write of an integration keeps the state it
 * made as a numbered version; these routes list them, show one, and restore
 * one (also after a delete). The same guards as the integration routes.
 */
@ApiTags('integrations')
@ApiBearerAuth()
@ApiParam({ name: 'iid', description: 'Tenant id', schema: ID_SCHEMA })
@ApiParam({ name: 'id', description: 'Integration id', schema: ID_SCHEMA })
@Controller('tenants/:iid/integrations/:id/versions')
@ActsOnTenant('iid')
export class VersionsController {
  constructor(
    private readonly versions: VersionsService,
    private readonly integrations: IntegrationsService,
  ) {}

  @Get()
  @RequireScope(Scope.IntegrationsRead)
  @ApiOperation({
    summary: "The integration's versions, newest first",
    description:
      'Every create, replace, PATCH, delete and restore kept as a numbered version (the revision), with who made it. Secrets are always masked here ' +
      '(GET one version to see them with integrations:secrets). A deleted integration keeps its versions for HISTORY_RETENTION_DAYS; ' +
      'each integration keeps its newest HISTORY_MAX_VERSIONS.',
  })
  @ApiPageQuery()
  @ApiResponse({
    status: 200,
    description: 'The versions; X-Total-Count is the number in all pages',
    headers: responseHeaders('X-Total-Count'),
    schema: { type: 'array', items: VERSION_REF },
    examples: {
      history: {
        summary: 'Newest first',
        value: [VERSION_EXAMPLES.restore.value, VERSION_EXAMPLES.delete.value, VERSION_EXAMPLES.patch.value],
      },
    },
  })
  @ApiErrors(
    {
      400: [E.badIid, ERR.badUrl, E.badId, ERR.badPage],
      403: [E.read, ERR.foreignTenant],
      404: [E.tenant, E.integration],
    },
    { descriptions: { 404: VERSION_404 } },
  )
  async list(
    @Param('iid') iid: string,
    @Param('id', ResourceIdPipe) id: string,
    @Page() page: PageQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<VersionWire[]> {
    const { items, total } = await this.versions.list(iid, id, page.limit, page.offset);
    reply.header('x-total-count', String(total));
    return items;
  }

  @Get(':rev')
  @RequireScope(Scope.IntegrationsRead)
  @ApiOperation({ summary: 'One version of the integration', description: 'Secrets are masked unless the token has integrations:secrets.' })
  @ApiParam(REVISION_PARAM)
  @ApiResponse({ status: 200, description: 'The version', headers: responseHeaders(), schema: VERSION_REF, examples: VERSION_EXAMPLES })
  @ApiErrors(
    {
      400: [E.badIid, ERR.badUrl, E.badId, V.badRev],
      403: [E.read, ERR.foreignTenant],
      404: [E.tenant, E.integration, V.version],
      500: [ERR.secretUnreadable],
      503: [E.keyRotated],
    },
    { audited: 'secret-read', descriptions: { 404: VERSION_404, 503: SECRET_READ_503.descriptions[503] } },
  )
  async get(
    @Param('iid') iid: string,
    @Param('id', ResourceIdPipe) id: string,
    @Param('rev', RevisionPipe) revision: number,
    @ReadAs() reading: ReadOptions,
  ): Promise<VersionWire> {
    return this.versions.get(iid, id, revision, reading);
  }

  @Post(':rev/restore')
  @RequireScope(Scope.IntegrationsWrite)
  @ApiOperation({
    summary: 'Restore a version: a new revision equal to it',
    description:
      'Writes the version back as the integration, secrets included, as a new revision (action restore), like a replace: If-Match is checked ' +
      'against the current integration, VERIFY_ON_SAVE applies. Restoring a version of a deleted integration brings it back (201). ' +
      "A delete's own version holds nothing to restore (409). No body: the answer shows secrets masked unless the token has integrations:secrets.",
  })
  @ApiParam(REVISION_PARAM)
  @ApiHeader(IF_MATCH)
  @ApiRestoredResponse(200, 'Restored over the current integration; its ETag is the new revision')
  @ApiRestoredResponse(201, 'The integration was deleted and is back, as the version was; its ETag is the new revision')
  // A POST with a body gets it parsed like any other (400 malformed, 413, 415), though none is read.
  @ApiErrors(
    {
      400: [E.badIid, ERR.badUrl, E.badId, V.badRev, ERR.malformedJson],
      403: [E.write, ERR.foreignTenant],
      404: [E.tenant, E.integration, V.version],
      409: [E.conflict, V.nothingToRestore],
      412: [E.stale],
      413: [ERR.tooLarge],
      415: [ERR.notJson],
      422: [E.vendorRefused],
      428: [E.ifMatchRequired],
      500: [ERR.secretUnreadable],
      503: [E.keyRotated],
    },
    {
      audited: 'change',
      descriptions: {
        404: VERSION_404,
        409: "The version is a delete's (nothing to restore), or the integration kept changing while the restore was retried",
        503: CHANGE_503.descriptions[503],
      },
    },
  )
  async restore(
    @Param('iid') iid: string,
    @Param('id', ResourceIdPipe) id: string,
    @Param('rev', RevisionPipe) revision: number,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Actor() actor: RequestActor,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<IntegrationWire> {
    const { wire, etag, created } = await this.integrations.restore(iid, id, revision, {
      ifMatch,
      reveal: mayRevealSecrets(principal),
      actor,
    });
    reply.status(created ? 201 : 200).header('etag', etag);
    return wire;
  }
}
