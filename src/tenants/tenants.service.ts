import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import type { Principal } from '../auth/scopes';
import { TenantAlreadyExistsError, TenantNotFoundError, ValidationFailedError } from '../common/errors/domain-errors';
import type { RequestActor } from '../common/request-actor';
import { DataKeyService } from '../crypto/data-key.service';
import { DatabaseService } from '../database/database.service';
import { formatInterval, INTERVAL_MESSAGE, parseInterval } from '../integrations/verification/scheduling/check-schedule';
import type { CreateTenantDto, TenantResponse, UpdateTenantDto } from './dto/tenant.dto';
import type { TenantEntity } from './tenant.entity';
import { TenantsRepository } from './tenants.repository';

export function toTenantResponse(tenant: TenantEntity): TenantResponse {
  return {
    id: tenant.id,
    name: tenant.name,
    'verify-interval': tenant.verifyInterval === null ? null : formatInterval(tenant.verifyInterval),
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
      verifyInterval: null,
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

  /**
   * Renames the tenant and/or sets its verify-interval (null: follow
   * VERIFY_INTERVAL, '0': off). A changed interval reschedules the tenant's
   * integrations in the same transaction: each becomes due now, and the
   * scheduler checks those whose last check is older than the new interval
   * and gives the others a new due time without a vendor call.
   */
  async update(id: string, dto: UpdateTenantDto, actor: RequestActor): Promise<TenantEntity> {
    const change: { name?: string; verifyInterval?: number | null } = {};
    if (dto.name !== undefined) change.name = dto.name;
    if (dto['verify-interval'] !== undefined) change.verifyInterval = dto['verify-interval'] === null ? null : intervalOf(dto['verify-interval']);
    if (Object.keys(change).length === 0) {
      const message = 'Send at least one of name and verify-interval';
      throw new ValidationFailedError(message, [{ field: 'body', message }]);
    }
    await this.db.transaction(async (tx) => {
      const before = await this.repository.settingsOf(id, tx);
      if (before === null) throw new TenantNotFoundError(id);
      if (!(await this.repository.update(id, change, new Date(), tx))) throw new TenantNotFoundError(id);
      if (change.verifyInterval !== undefined && change.verifyInterval !== before.verifyInterval) {
        await this.repository.rescheduleChecks(id, new Date(), tx);
      }
      await this.audit.record({ tenantId: id, actor, action: 'tenant.update', target: id, outcome: 200 }, tx);
    });
    return this.get(id);
  }

  /** Each live tenant's own verify-interval in seconds (null: the service's); deleted tenants are absent. */
  verifyIntervals(ids: string[]): Promise<Map<string, number | null>> {
    return this.repository.verifyIntervals(ids);
  }

  /** Whether any live tenant has scheduled checks on by its own setting (the scheduler runs for them when VERIFY_INTERVAL is 0). */
  anyWithChecks(): Promise<boolean> {
    return this.repository.anyWithVerifyInterval();
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

/** Seconds of a verify-interval the DTO's pattern let through; 400 when it is beyond the maximum. */
function intervalOf(text: string): number {
  const seconds = parseInterval(text);
  if (seconds === undefined) throw new ValidationFailedError(INTERVAL_MESSAGE, [{ field: 'verify-interval', message: INTERVAL_MESSAGE }]);
  return seconds;
}
