import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ActsOnTenant, CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import { Scope, type Principal } from '../auth/scopes';
import { ApiErrors } from '../common/openapi';
import { ApiPageQuery, Page, type PageQuery } from '../common/pagination';
import { CreateTenantDto, TenantResponse, UpdateTenantDto } from './dto/tenant.dto';
import { TenantsService, toTenantResponse } from './tenants.service';

@ApiTags('tenants')
@ApiBearerAuth()
@Controller('tenants')
export class TenantsController {
  constructor(private readonly tenants: TenantsService) {}

  @Post()
  @RequireScope(Scope.PlatformAdmin)
  @ApiOperation({ summary: 'Create a tenant (platform admin)' })
  @ApiErrors(400, 403, 409)
  async create(@Body() dto: CreateTenantDto): Promise<TenantResponse> {
    return toTenantResponse(await this.tenants.create(dto));
  }

  @Get()
  @ApiOperation({ summary: 'The tenants this token may see, sorted by id' })
  @ApiOkResponse({ type: [TenantResponse] })
  @ApiHeader({ name: 'X-Total-Count', description: 'Number of tenants in all pages', required: false })
  @ApiPageQuery()
  @ApiErrors(400)
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
  @ApiParam({ name: 'iid', description: 'Tenant id' })
  @ApiOkResponse({ type: TenantResponse })
  @ApiErrors(403, 404)
  async get(@Param('iid') iid: string): Promise<TenantResponse> {
    return toTenantResponse(await this.tenants.get(iid));
  }

  @Patch(':iid')
  @ActsOnTenant('iid')
  @RequireScope(Scope.PlatformAdmin)
  @ApiOperation({ summary: 'Rename a tenant (platform admin)' })
  @ApiParam({ name: 'iid', description: 'Tenant id' })
  @ApiOkResponse({ type: TenantResponse })
  @ApiErrors(400, 403, 404)
  async rename(@Param('iid') iid: string, @Body() dto: UpdateTenantDto): Promise<TenantResponse> {
    return toTenantResponse(await this.tenants.rename(iid, dto.name));
  }

  @Delete(':iid')
  @ActsOnTenant('iid')
  @HttpCode(204)
  @RequireScope(Scope.PlatformAdmin)
  @ApiOperation({
    summary: 'Delete a tenant (platform admin)',
    description: 'Soft delete: the id stays taken and later calls get 404. Its data key is destroyed, so its secrets are unrecoverable.',
  })
  @ApiParam({ name: 'iid', description: 'Tenant id' })
  @ApiErrors(403, 404)
  async delete(@Param('iid') iid: string): Promise<void> {
    await this.tenants.delete(iid);
  }
}
