import { Injectable } from '@nestjs/common';
import type { Principal } from '../auth/scopes';
import { TenantAlreadyExistsError, TenantNotFoundError } from '../common/errors/domain-errors';
import { DataKeyService } from '../crypto/data-key.service';
import type { CreateTenantDto, TenantResponse } from './dto/tenant.dto';
import type { TenantEntity } from './tenant.entity';
import { TenantsRepository } from './tenants.repository';

export function toTenantResponse(tenant: TenantEntity): TenantResponse {
  return {
    id: tenant.id,
    name: tenant.name,
    'created-at': tenant.createdAt.toISOString(),
    'updated-at': tenant.updatedAt.toISOString(),
  };
}

@Injectable()
export class TenantsService {
  constructor(
    private readonly repository: TenantsRepository,
    private readonly dataKeys: DataKeyService,
  ) {}

  /** Creates a tenant with its own data key. Ids are never reused, not even after deletion. */
  async create(dto: CreateTenantDto): Promise<TenantEntity> {
    const now = new Date();
    const dataKey = this.dataKeys.generate(dto.id);
    const tenant: TenantEntity = {
      id: dto.id,
      name: dto.name,
      dataKeyWrapped: dataKey.wrapped,
      masterKeyId: dataKey.masterKeyId,
      dataKeyVersion: 1,
      dataKeyCreatedAt: now,
      previousDataKeyWrapped: null,
      createdAt: now,
      updatedAt: now,
    };
    const outcome = await this.repository.insert(tenant);
    if (outcome !== 'created') throw new TenantAlreadyExistsError(dto.id, outcome === 'deleted');
    return tenant;
  }

  /** The live tenants this caller may see, sorted by id. */
  async list(principal: Principal, limit: number, offset: number): Promise<{ items: TenantEntity[]; total: number }> {
    if (!principal.admin && principal.tenants.size === 0) return { items: [], total: 0 };
    const [items, total] = await this.repository.page(principal.admin ? undefined : [...principal.tenants], limit, offset);
    return { items, total };
  }

  /** The tenant, or 404 when it does not exist or was deleted. */
  async get(id: string): Promise<TenantEntity> {
    const tenant = await this.repository.findById(id);
    if (tenant === null) throw new TenantNotFoundError(id);
    return tenant;
  }

  /** 404 unless the tenant is live; for the other modules, which find out about tenants through here. */
  async requireLive(id: string): Promise<void> {
    await this.get(id);
  }

  async rename(id: string, name: string): Promise<TenantEntity> {
    if (!(await this.repository.rename(id, name, new Date()))) throw new TenantNotFoundError(id);
    return this.get(id);
  }

  /**
   * Deletes the tenant: its row goes, with the wrapped data key in it (so no
   * later dump can decrypt its secrets) and, by cascade, everything it owns.
   * A tombstone keeps the id from being reused.
   */
  async delete(id: string): Promise<void> {
    if (!(await this.repository.delete(id, new Date()))) throw new TenantNotFoundError(id);
    this.dataKeys.forget(id);
  }
}
