import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { DatabaseService } from '../database/database.service';
import { IntegrationEntity } from './integration.entity';

/** The tenant columns a read needs: is it live, and its wrapped data key. */
export interface TenantKeyRow {
  deleted: boolean;
  dataKeyWrapped: string | null;
  dataKeyVersion: number;
}

/** An integration row as stored (JSON columns still as text). */
export interface IntegrationRow {
  id: string;
  type: string;
  config: string;
  secrets: string;
  revision: number;
}

interface JoinedRow {
  tenant_deleted_at: unknown;
  data_key_wrapped: string | null;
  data_key_version: number | string;
  id: string | null;
  type: string | null;
  config: string | null;
  secrets: string | null;
  revision: number | string | null;
}

function toTenantKey(row: JoinedRow): TenantKeyRow {
  return { deleted: row.tenant_deleted_at !== null, dataKeyWrapped: row.data_key_wrapped, dataKeyVersion: Number(row.data_key_version) };
}

function toIntegration(row: JoinedRow): IntegrationRow | undefined {
  if (row.id === null || row.type === null) return undefined;
  return { id: row.id, type: row.type, config: row.config ?? '{}', secrets: row.secrets ?? '{}', revision: Number(row.revision) };
}

/**
 * Reads on the hot path are single tailored queries: the tenant check, its
 * wrapped data key and the integration come back in one indexed lookup.
 */
@Injectable()
export class IntegrationsRepository {
  constructor(private readonly db: DatabaseService) {}

  async findOne(tenantId: string, id: string): Promise<{ tenant?: TenantKeyRow; integration?: IntegrationRow }> {
    const rows = await this.db.select<JoinedRow>(
      `SELECT t.deleted_at AS tenant_deleted_at, t.data_key_wrapped, t.data_key_version,
              i.id, i.type, i.config, i.secrets, i.revision
         FROM tenants t
         LEFT JOIN integrations i ON i.tenant_id = t.id AND i.id = ?
        WHERE t.id = ?`,
      [id, tenantId],
    );
    if (rows.length === 0) return {};
    return { tenant: toTenantKey(rows[0]), integration: toIntegration(rows[0]) };
  }

  async findPage(tenantId: string, limit: number, offset: number): Promise<{ tenant?: TenantKeyRow; items: IntegrationRow[]; total: number }> {
    // Tenant check + count in one statement, the page beside it (a deleted tenant has no rows left).
    // Kept apart: one JOIN with ORDER BY makes MariaDB sort in a temporary table.
    const [tenants, rows] = await Promise.all([
      this.db.select<JoinedRow & { total: number | string }>(
        `SELECT deleted_at AS tenant_deleted_at, data_key_wrapped, data_key_version,
                (SELECT COUNT(*) FROM integrations WHERE tenant_id = ?) AS total
           FROM tenants WHERE id = ?`,
        [tenantId, tenantId],
      ),
      // LIMIT/OFFSET are validated integers; inlined because MySQL's prepared LIMIT ? wants strings.
      this.db.select<JoinedRow>(
        `SELECT id, type, config, secrets, revision FROM integrations WHERE tenant_id = ? ORDER BY id LIMIT ${Math.trunc(limit)} OFFSET ${Math.trunc(offset)}`,
        [tenantId],
      ),
    ]);
    if (tenants.length === 0) return { items: [], total: 0 };
    const tenant = toTenantKey(tenants[0]);
    if (tenant.deleted) return { tenant, items: [], total: 0 };
    return { tenant, items: rows.map((row) => toIntegration(row)).filter((row) => row !== undefined), total: Number(tenants[0].total) };
  }

  /** Inside a write transaction (the tenant row already locked). */
  async findForWrite(manager: EntityManager, tenantId: string, id: string): Promise<IntegrationEntity | null> {
    return manager.findOne(IntegrationEntity, { where: { tenantId, id } });
  }
}
