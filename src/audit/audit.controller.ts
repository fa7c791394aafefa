import type { Readable } from 'node:stream';
import { createParamDecorator, type ExecutionContext, Controller, Get, Headers, Param, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ActsOnTenant, RequireScope } from '../auth/auth.decorators';
import { Scope } from '../auth/scopes';
import {
  AUDIT_UNAVAILABLE_MESSAGES,
  AuditUnavailableError,
  TenantNotFoundError,
  ValidationFailedError,
} from '../common/errors/domain-errors';
import { ApiErrors, ERR, exampleOf, ID_SCHEMA, responseHeaders, type ErrorExample } from '../common/openapi';
import { Actor, type RequestActor } from '../common/request-actor';
import { PLATFORM_CHAIN } from './audit-chain';
import { ApiAuditQuery, type AuditQuery, parseAuditQuery } from './audit-query';
import { AuditTrailReader } from './audit-trail.reader';
import { AUDIT_EVENT_EXAMPLE, type AuditPageWire } from './audit.wire';

export const NDJSON = 'application/x-ndjson';

const queryRefusal = (field: string, message: string): ErrorExample =>
  exampleOf(`bad ${field}`, new ValidationFailedError(`Validation failed (${field})`, [{ field, message }]));

const E = {
  tenant: exampleOf('never a tenant', new TenantNotFoundError('acme')),
  since: queryRefusal('since', 'since must be an ISO 8601 date-time, like 2026-11-28T10:00:00Z'),
  limit: queryRefusal('limit', 'limit must be an integer from 1 to 1000'),
  cursor: queryRefusal('cursor', 'cursor must be a next-cursor this API returned'),
  action: queryRefusal('action', 'action must be one of tenant.create, tenant.update, …'),
  unknown: exampleOf(
    'unknown parameter',
    new ValidationFailedError('Validation failed (unknown field: offset)', [
      { field: 'offset', message: 'property offset should not exist' },
    ]),
  ),
  unavailable: exampleOf('audit trail unwritable', new AuditUnavailableError(AUDIT_UNAVAILABLE_MESSAGES.read)),
} satisfies Record<string, ErrorExample>;

const UNAVAILABLE_503 =
  'The database is unreachable, or (AUDIT_UNAVAILABLE) the read itself could not be recorded, so nothing was read; retry after Retry-After seconds';

/** The events of GET …/audit, as JSON pages or, asked for with `Accept: application/x-ndjson`, one per line. */
const TRAIL_RESPONSE = {
  status: 200,
  description:
    'JSON: one page of events in seq order, and the cursor of the next (null on the last page). ' +
    '`Accept: application/x-ndjson`: every event of the range, one JSON object per line, streamed; ' +
    'a failure after the first line cuts the connection, so a complete export always ends with a newline and a clean end of the response.',
  headers: responseHeaders(),
  content: {
    'application/json': {
      schema: { $ref: '#/components/schemas/AuditPage' },
      examples: { page: { summary: 'A page with more after it', value: { events: [AUDIT_EVENT_EXAMPLE], 'next-cursor': 'djEuNDIuMTAw' } } },
    },
    // The schema is the body's, and the body is text: many events, one per line, not one object (a validating
    // proxy refused the export, and generated clients typed it as a single AuditEvent). Each line's schema is
    // in x-itemSchema, as OpenAPI 3.2 names it (`itemSchema`) for sequential media types.
    [NDJSON]: {
      schema: {
        type: 'string',
        description: 'Newline-delimited JSON: one AuditEvent (x-itemSchema) per line, each line ending with a newline',
      },
      'x-itemSchema': { $ref: '#/components/schemas/AuditEvent' },
      example: `${JSON.stringify(AUDIT_EVENT_EXAMPLE)}\n`,
    },
  },
};

const TRAIL_DESCRIPTION =
  'Every privileged action as an append-only event: changes (committed with their event), reads of plaintext secrets ' +
  '(recorded before the secret is sent), verifications, key rotations, and reads of this trail. Each chain is hashed: ' +
  '`hash` = SHA-256(`prev-hash`, the event), checked by `npm run audit:verify`. Filters: `since`, `action`; pages: `limit`, `cursor` ' +
  "(paging ends at the chain's head as it was when the first page was read). Send `Accept: application/x-ndjson` to stream " +
  'the whole filtered range, one event per line (for a SIEM). Events are kept AUDIT_RETENTION_DAYS.';

/** The query string of GET …/audit (400 when out of its rules). */
const AuditQueryParams = createParamDecorator((_data: unknown, context: ExecutionContext): AuditQuery =>
  parseAuditQuery(context.switchToHttp().getRequest<{ query?: Record<string, unknown> }>().query ?? {}),
);

/**
 * The audit trail (src/audit): a tenant's, for platform admins and for tokens
 * with audit:read on that tenant, also after the tenant was deleted; and the
 * platform's own (the token-signing keys), for platform admins.
 */
@ApiTags('audit')
@ApiBearerAuth()
@Controller()
export class AuditController {
  constructor(private readonly reader: AuditTrailReader) {}

  @Get('tenants/:iid/audit')
  @ActsOnTenant('iid')
  @RequireScope(Scope.AuditRead)
  @ApiOperation({
    summary: "The tenant's audit trail (JSON pages, or NDJSON)",
    description: `${TRAIL_DESCRIPTION} A deleted tenant's trail stays readable.`,
  })
  @ApiParam({ name: 'iid', description: 'Tenant id (a deleted tenant too)', schema: ID_SCHEMA })
  @ApiAuditQuery()
  @ApiResponse(TRAIL_RESPONSE)
  @ApiErrors(
    {
      400: [ERR.badPathId('iid'), ERR.badUrl, E.since, E.action, E.limit, E.cursor, E.unknown],
      403: [ERR.lacksScope('audit:read'), ERR.foreignTenant],
      404: [E.tenant],
      503: [E.unavailable],
    },
    {
      descriptions: {
        403: 'The token lacks audit:read, or the tenant is not among its tenants',
        404: 'No tenant ever had this id',
        503: UNAVAILABLE_503,
      },
    },
  )
  tenantTrail(
    @Param('iid') iid: string,
    @AuditQueryParams() query: AuditQuery,
    @Actor() actor: RequestActor,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<AuditPageWire | Readable> {
    return this.trail(iid, query, actor, accept, reply);
  }

  @Get('platform/audit')
  @RequireScope(Scope.PlatformAdmin)
  @ApiOperation({
    summary: "The platform's audit trail (platform admin)",
    description: `The platform-wide actions, in the chain \`${PLATFORM_CHAIN}\`: the service's token-signing keys created, rotated and re-wrapped. ${TRAIL_DESCRIPTION}`,
  })
  @ApiAuditQuery()
  @ApiResponse(TRAIL_RESPONSE)
  @ApiErrors(
    { 400: [E.since, E.action, E.limit, E.cursor, E.unknown], 403: [ERR.lacksScope('platform:admin')], 503: [E.unavailable] },
    { descriptions: { 503: UNAVAILABLE_503 } },
  )
  platformTrail(
    @AuditQueryParams() query: AuditQuery,
    @Actor() actor: RequestActor,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<AuditPageWire | Readable> {
    return this.trail(PLATFORM_CHAIN, query, actor, accept, reply);
  }

  private async trail(
    chain: string,
    query: AuditQuery,
    actor: RequestActor,
    accept: string | undefined,
    reply: FastifyReply,
  ): Promise<AuditPageWire | Readable> {
    if (accept === undefined || !accept.toLowerCase().includes(NDJSON)) return this.reader.page(chain, query, actor);
    const stream = await this.reader.export(chain, query, actor);
    reply.type(`${NDJSON}; charset=utf-8`);
    return stream;
  }
}
