import { Injectable } from '@nestjs/common';
import { DatabaseService, type SqlTransaction } from '../database/database.service';

/** The tenant columns a read needs: is it live, and its wrapped data key. */
export interface TenantKeyRow {
  id: string;
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

/** A whole row to write: the columns of IntegrationEntity. */
export interface IntegrationRecord extends IntegrationRow {
  tenantId: string;
  createdAt: Date;
  updatedAt: Date;
  verifyStatus: string | null;
  verifyMessage: string | null;
  verifiedAt: Date | null;
}

function toTenantKey(tenantId: string, row: JoinedRow): TenantKeyRow {
  return { id: tenantId, deleted: row.tenant_deleted_at !== null, dataKeyWrapped: row.data_key_wrapped, dataKeyVersion: Number(row.data_key_version) };
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
    return { tenant: toTenantKey(tenantId, rows[0]), integration: toIntegration(rows[0]) };
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
    const tenant = toTenantKey(tenantId, tenants[0]);
    if (tenant.deleted) return { tenant, items: [], total: 0 };
    return { tenant, items: rows.map((row) => toIntegration(row)).filter((row) => row !== undefined), total: Number(tenants[0].total) };
  }

  /**
   * The first statement of a write: locks the tenant row (and the integration
   * row, when there is one) until the transaction ends, so writes and key
   * rotation of one tenant queue instead of racing, and reads both in the
   * same lookup as `findOne`.
   */
  async lockForWrite(tx: SqlTransaction, tenantId: string, id: string): Promise<{ tenant?: TenantKeyRow; integration?: IntegrationRow }> {
    const rows = await tx.select<JoinedRow>(
      `SELECT t.deleted_at AS tenant_deleted_at, t.data_key_wrapped, t.data_key_version,
              i.id, i.type, i.config, i.secrets, i.revision
         FROM tenants t
         LEFT JOIN integrations i ON i.tenant_id = t.id AND i.id = ?
        WHERE t.id = ?${this.db.forUpdate}`,
      [id, tenantId],
    );
    if (rows.length === 0) return {};
    return { tenant: toTenantKey(tenantId, rows[0]), integration: toIntegration(rows[0]) };
  }

  async insert(tx: SqlTransaction, row: IntegrationRecord): Promise<void> {
    await tx.run(
      `INSERT INTO integrations (tenant_id, id, type, config, secrets, revision, created_at, updated_at, verify_status, verify_message, verified_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [row.tenantId, row.id, row.type, row.config, row.secrets, row.revision, row.createdAt, row.updatedAt, row.verifyStatus, row.verifyMessage, row.verifiedAt],
    );
  }

  /** Every column but the key and created_at. */
  async update(tx: SqlTransaction, row: IntegrationRecord): Promise<void> {
    await tx.run(
      `UPDATE integrations
          SET type = ?, config = ?, secrets = ?, revision = ?, updated_at = ?, verify_status = ?, verify_message = ?, verified_at = ?
        WHERE tenant_id = ? AND id = ?`,
      [row.type, row.config, row.secrets, row.revision, row.updatedAt, row.verifyStatus, row.verifyMessage, row.verifiedAt, row.tenantId, row.id],
    );
  }

  async remove(tx: SqlTransaction, tenantId: string, id: string): Promise<void> {
    await tx.run('DELETE FROM integrations WHERE tenant_id = ? AND id = ?', [tenantId, id]);
  }
}
