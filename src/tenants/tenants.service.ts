import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Principal } from '../auth/scopes';
import { TenantAlreadyExistsError, TenantNotFoundError } from '../common/errors/domain-errors';
import { DataKeyService } from '../crypto/data-key.service';
import { isDuplicateKey } from '../database/database-errors';
import { DatabaseService } from '../database/database.service';
import { IntegrationEntity } from '../integrations/integration.entity';
import type { CreateTenantDto, TenantResponse } from './dto/tenant.dto';
import { TenantEntity } from './tenant.entity';

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
    private readonly db: DatabaseService,
    private readonly dataKeys: DataKeyService,
  ) {}

  /** Creates a tenant with its own data key. Ids are never reused, not even after deletion. */
  async create(dto: CreateTenantDto): Promise<TenantEntity> {
    try {
      return await this.db.transaction(async (manager) => {
        const existing = await manager.findOne(TenantEntity, { where: { id: dto.id } });
        if (existing !== null) throw new TenantAlreadyExistsError(dto.id, existing.deletedAt !== null);
        const now = new Date();
        const dataKey = this.dataKeys.generate(dto.id);
        const tenant = manager.create(TenantEntity, {
          id: dto.id,
          name: dto.name,
          dataKeyWrapped: dataKey.wrapped,
          masterKeyId: dataKey.masterKeyId,
          dataKeyVersion: 1,
          dataKeyCreatedAt: now,
          createdAt: now,
          updatedAt: now,
          deletedAt: null,
        });
        await manager.insert(TenantEntity, tenant);
        return tenant;
      });
    } catch (error) {
      // Two creates of one id raced past the check: the primary key decides.
      if (isDuplicateKey(error)) throw new TenantAlreadyExistsError(dto.id, false);
      throw error;
    }
  }

  /** The live tenants this caller may see, sorted by id. */
  async list(principal: Principal, limit: number, offset: number): Promise<{ items: TenantEntity[]; total: number }> {
    const query = this.db.dataSource
      .getRepository(TenantEntity)
      .createQueryBuilder('t')
      .where('t.deleted_at IS NULL')
      .orderBy('t.id', 'ASC')
      .take(limit)
      .skip(offset);
    if (!principal.admin) {
      const visible = [...principal.tenants];
      if (visible.length === 0) return { items: [], total: 0 };
      query.andWhere('t.id IN (:...visible)', { visible });
    }
    const [items, total] = await query.getManyAndCount();
    return { items, total };
  }

  async get(id: string): Promise<TenantEntity> {
    return this.requireLive(this.db.dataSource.manager, id);
  }

  async rename(id: string, name: string): Promise<TenantEntity> {
    return this.db.transaction(async (manager) => {
      const tenant = await this.requireLive(manager, id, { lock: true });
      tenant.name = name;
      tenant.updatedAt = new Date();
      await manager.update(TenantEntity, { id }, { name, updatedAt: tenant.updatedAt });
      return tenant;
    });
  }

  /**
   * Soft delete with crypto-shredding: the wrapped data key and every
   * integration row go in one transaction, so no later dump can decrypt the
   * tenant's secrets. The row stays as a tombstone.
   */
  async delete(id: string): Promise<void> {
    await this.db.transaction(async (manager) => {
      await this.requireLive(manager, id, { lock: true });
      await manager.delete(IntegrationEntity, { tenantId: id });
      const now = new Date();
      await manager.update(TenantEntity, { id }, { deletedAt: now, updatedAt: now, dataKeyWrapped: null, masterKeyId: null });
    });
    this.dataKeys.forget(id);
  }

  /**
   * The tenant, or 404 when it does not exist or is deleted. With `lock`, the
   * row stays locked until the transaction ends: integration writes and key
   * rotation of one tenant take this lock, so they never interleave.
   */
  async requireLive(manager: EntityManager, id: string, options: { lock?: boolean } = {}): Promise<TenantEntity> {
    const tenant = await manager.findOne(TenantEntity, {
      where: { id },
      ...(options.lock && this.db.engine === 'mysql' ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
    if (tenant === null || tenant.deletedAt !== null) throw new TenantNotFoundError(id);
    return tenant;
  }
}
