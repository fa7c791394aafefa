import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ActsOnTenant, CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import { Scope, type Principal } from '../auth/scopes';
import { TenantAlreadyExistsError, TenantNotFoundError, ValidationFailedError } from '../common/errors/domain-errors';
import { ApiErrors, ERR, exampleOf, ID_SCHEMA, responseHeaders, type ErrorExample } from '../common/openapi';
import { ApiPageQuery, Page, type PageQuery } from '../common/pagination';
import { Actor, type RequestActor } from '../common/request-actor';
import { CreateTenantDto, TenantResponse, UpdateTenantDto } from './dto/tenant.dto';
import { INTERVAL_MESSAGE } from '../integrations/verification/scheduling/check-schedule';
import { TenantsService, toTenantResponse } from './tenants.service';

/** The error cases of these routes, with the messages the service really sends. */
const E = {
  badIid: ERR.badPathId('iid'),
  admin: ERR.lacksScope('platform:admin'),
  read: ERR.lacksScope('integrations:read'),
  tenant: exampleOf('no such tenant', new TenantNotFoundError('acme')),
  badBody: exampleOf(
    'invalid field',
    new ValidationFailedError('Validation failed (missing or invalid: name)', [{ field: 'name', message: 'name should not be empty' }]),
  ),
  noChange: exampleOf(
    'nothing to change',
    new ValidationFailedError('Send at least one of name and verify-interval', [{ field: 'body', message: 'Send at least one of name and verify-interval' }]),
  ),
  badInterval: exampleOf(
    'not a duration',
    new ValidationFailedError(`Validation failed (verify-interval)`, [{ field: 'verify-interval', message: INTERVAL_MESSAGE }]),
  ),
  unknownField: exampleOf(
    'unknown field',
    new ValidationFailedError('Validation failed (unknown field: extra)', [{ field: 'extra', message: 'property extra should not exist' }]),
  ),
} satisfies Record<string, ErrorExample>;

const TENANT_REF = { $ref: '#/components/schemas/TenantResponse' };
const TENANT_EXAMPLE = {
  id: 'acme',
  name: 'Acme Corporation',
  'verify-interval': null,
  'created-at': '2026-11-28T10:00:00.000Z',
  'updated-at': '2026-11-28T10:00:00.000Z',
};

@ApiTags('tenants')
@ApiBearerAuth()
@Controller('tenants')
export class TenantsController {
  constructor(private readonly tenants: TenantsService) {}

  @Post()
  @RequireScope(Scope.PlatformAdmin)
  @ApiOperation({ summary: 'Create a tenant (platform admin)' })
  @ApiResponse({ status: 201, description: 'Created', type: TenantResponse, headers: responseHeaders() })
  @ApiErrors(
    {
      400: [E.badBody, E.unknownField, ERR.malformedJson, ERR.emptyBody],
      403: [E.admin],
      409: [
        exampleOf('the id is taken', new TenantAlreadyExistsError('acme', false)),
        exampleOf('the id belonged to a deleted tenant', new TenantAlreadyExistsError('acme', true)),
      ],
      413: [ERR.tooLarge],
      415: [ERR.notJson],
    },
    { audited: 'change' },
  )
  async create(@Body() dto: CreateTenantDto, @Actor() actor: RequestActor): Promise<TenantResponse> {
    return toTenantResponse(await this.tenants.create(dto, actor));
  }

  @Get()
  @ApiOperation({ summary: 'The tenants this token may see, sorted by id' })
  @ApiResponse({
    status: 200,
    description: 'The tenants; X-Total-Count is the number in all pages',
    schema: { type: 'array', items: TENANT_REF },
    headers: responseHeaders('X-Total-Count'),
    examples: { tenants: { summary: 'One page', value: [TENANT_EXAMPLE] } },
  })
  @ApiPageQuery()
  @ApiErrors({ 400: [ERR.badPage] })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Page() page: PageQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TenantResponse[]> {
    const { items, total } = await this.tenants.list(principal, page.limit, page.offset);
    reply.header('x-total-count', String(total));
    return items.map(toTenantResponse);
  }

  @Get(':iid')
  @ActsOnTenant('iid')
  @RequireScope(Scope.IntegrationsRead)
  @ApiOperation({ summary: 'One tenant' })
  @ApiParam({ name: 'iid', description: 'Tenant id', schema: ID_SCHEMA })
  @ApiResponse({ status: 200, description: 'The tenant', type: TenantResponse, headers: responseHeaders() })
  @ApiErrors({ 400: [E.badIid, ERR.badUrl], 403: [E.read, ERR.foreignTenant], 404: [E.tenant] })
  async get(@Param('iid') iid: string): Promise<TenantResponse> {
    return toTenantResponse(await this.tenants.get(iid));
  }

  @Patch(':iid')
  @ActsOnTenant('iid')
  @RequireScope(Scope.PlatformAdmin)
  @ApiOperation({
    summary: 'Rename a tenant, or set how often its credentials are checked (platform admin)',
    description:
      "Send `name`, `verify-interval` or both. `verify-interval` is the tenant's own interval for scheduled credential checks " +
      "('6h'; '0' turns them off for it; null follows the service's VERIFY_INTERVAL); changing it reschedules the tenant's integrations.",
  })
  @ApiParam({ name: 'iid', description: 'Tenant id', schema: ID_SCHEMA })
  @ApiResponse({
    status: 200,
    description: 'The tenant as changed',
    type: TenantResponse,
    headers: responseHeaders(),
    examples: {
      renamed: { summary: 'Renamed', value: { ...TENANT_EXAMPLE, name: 'Acme Corp.', 'updated-at': '2026-11-29T08:00:00.000Z' } },
      interval: { summary: 'Checked every 6 hours', value: { ...TENANT_EXAMPLE, 'verify-interval': '6h', 'updated-at': '2026-11-29T08:00:00.000Z' } },
    },
  })
  @ApiErrors(
    {
      400: [E.badIid, ERR.badUrl, E.noChange, E.badInterval, E.unknownField, ERR.malformedJson, ERR.emptyBody],
      403: [E.admin],
      404: [E.tenant],
      413: [ERR.tooLarge],
      415: [ERR.notJson],
    },
    { audited: 'change' },
  )
  async rename(@Param('iid') iid: string, @Body() dto: UpdateTenantDto, @Actor() actor: RequestActor): Promise<TenantResponse> {
    return toTenantResponse(await this.tenants.update(iid, dto, actor));
  }

  @Delete(':iid')
  @ActsOnTenant('iid')
  @HttpCode(204)
  @RequireScope(Scope.PlatformAdmin)
  @ApiOperation({
    summary: 'Delete a tenant (platform admin)',
    description: 'Soft delete: the id stays taken and later calls get 404. Its data key is destroyed, so its secrets are unrecoverable.',
  })
  @ApiParam({ name: 'iid', description: 'Tenant id', schema: ID_SCHEMA })
  @ApiResponse({ status: 204, description: 'Deleted; no body', headers: responseHeaders() })
  // A DELETE with a body gets it parsed like any other (400 malformed, 413, 415).
  @ApiErrors(
    { 400: [E.badIid, ERR.badUrl, ERR.malformedJson], 403: [E.admin], 404: [E.tenant], 413: [ERR.tooLarge], 415: [ERR.notJson] },
    { audited: 'change' },
  )
  async delete(@Param('iid') iid: string, @Actor() actor: RequestActor): Promise<void> {
    await this.tenants.delete(iid, actor);
  }
}
