import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import type { Principal } from '../auth/scopes';
import { TenantAlreadyExistsError, TenantNotFoundError } from '../common/errors/domain-errors';
import type { RequestActor } from '../common/request-actor';
import { DataKeyService } from '../crypto/data-key.service';
import { DatabaseService } from '../database/database.service';
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

/**
 * Tenants: each change commits in one transaction with its audit event
 * (tenant.create, tenant.update, tenant.delete), so neither exists without
 * the other; when the event cannot be written the change is not made (503).
 */
@Injectable()
export class TenantsService {
  constructor(
    private readonly repository: TenantsRepository,
    private readonly dataKeys: DataKeyService,
    private readonly db: DatabaseService,
    private readonly audit: AuditService,
  ) {}

  /** Creates a tenant with its own data key. Ids are never reused, not even after deletion. */
  async create(dto: CreateTenantDto, actor: RequestActor): Promise<TenantEntity> {
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
    await this.db.transaction(async (tx) => {
      const outcome = await this.repository.insert(tenant, tx);
      // Thrown inside the transaction: a row inserted over a deleted tenant's id is rolled back.
      if (outcome !== 'created') throw new TenantAlreadyExistsError(dto.id, outcome === 'deleted');
      await this.audit.record({ tenantId: tenant.id, actor, action: 'tenant.create', target: tenant.id, outcome: 201 }, tx);
    });
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

  /** Whether the id is or was a tenant's (a deleted tenant keeps its id, and its audit trail). */
  async hasExisted(id: string): Promise<boolean> {
    return (await this.repository.findById(id)) !== null || (await this.repository.isTombstoned(id));
  }

  /** 404 unless the tenant is live; for the other modules, which find out about tenants through here. */
  async requireLive(id: string): Promise<void> {
    await this.get(id);
  }

  async rename(id: string, name: string, actor: RequestActor): Promise<TenantEntity> {
    await this.db.transaction(async (tx) => {
      if (!(await this.repository.rename(id, name, new Date(), tx))) throw new TenantNotFoundError(id);
      await this.audit.record({ tenantId: id, actor, action: 'tenant.update', target: id, outcome: 200 }, tx);
    });
    return this.get(id);
  }

  /**
   * Deletes the tenant: its row goes, with the wrapped data key in it (so no
   * later dump can decrypt its secrets) and, by cascade, everything it owns.
   * A tombstone keeps the id from being reused; the tenant's audit trail
   * stays (it holds no secret), ending with this deletion.
   */
  async delete(id: string, actor: RequestActor): Promise<void> {
    await this.db.transaction(async (tx) => {
      if (!(await this.repository.delete(id, new Date(), tx))) throw new TenantNotFoundError(id);
      await this.audit.record({ tenantId: id, actor, action: 'tenant.delete', target: id, outcome: 204 }, tx);
    });
    await this.dataKeys.forgetEverywhere(id);
  }
}
