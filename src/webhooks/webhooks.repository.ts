import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import { isForeignKeyViolation } from '../database/database-errors';
import { DatabaseService } from '../database/database.service';
import type { WriteFence } from '../tenants/tenants.repository';
import { WebhookDeliveryEntity } from './webhook-delivery.entity';
import type { SqlExpression } from './webhook-events';
import { WebhookEntity } from './webhook.entity';

/** A new outbox row's fields that the emitting statement does not take from the webhook. */
export interface OutboxRow {
  tenantId: string;
  eventId: string;
  eventType: string;
  payload: string;
  /** Bit of the event type: only endpoints subscribed to it get a row. */
  bit: number;
  createdAt: Date;
  retryUntil: Date;
}

/** What one attempt came to, as the worker records it. */
export interface AttemptRecord {
  at: Date;
  statusCode: number | null;
  error: string | null;
  excerpt: string | null;
}

export type DeliveryKey = Pick<WebhookDeliveryEntity, 'tenantId' | 'webhookId' | 'eventId'>;

/**
 * Webhooks and their outbox rows. Every method is one operation on
 * DatabaseService (SQLite's single connection is shared safely) and every
 * query names the tenant; writes join the caller's transaction (`tx`), where
 * the change's audit event is appended too.
 */
@Injectable()
export class WebhooksRepository {
  constructor(
    @InjectRepository(WebhookEntity) private readonly webhooks: Repository<WebhookEntity>,
    @InjectRepository(WebhookDeliveryEntity) private readonly deliveries: Repository<WebhookDeliveryEntity>,
    private readonly db: DatabaseService,
  ) {}

  // --- webhooks ---

  /** False when the tenant is gone (the foreign key refuses the row). */
  async insert(webhook: WebhookEntity, tx: EntityManager): Promise<boolean> {
    try {
      await this.db.within(tx, (manager) => manager.withRepository(this.webhooks).insert(webhook));
      return true;
    } catch (error) {
      if (isForeignKeyViolation(error)) return false;
      throw error;
    }
  }

  page(tenantId: string, limit: number, offset: number): Promise<[WebhookEntity[], number]> {
    return this.db.run((manager) =>
      manager
        .withRepository(this.webhooks)
        .findAndCount({ where: { tenantId }, order: { createdAt: 'ASC', id: 'ASC' }, take: limit, skip: offset }),
    );
  }

  find(tenantId: string, id: string, tx?: EntityManager): Promise<WebhookEntity | null> {
    return this.db.within(tx, (manager) => manager.withRepository(this.webhooks).findOneBy({ tenantId, id }));
  }

  allOf(tenantId: string): Promise<WebhookEntity[]> {
    return this.db.run((manager) => manager.withRepository(this.webhooks).find({ where: { tenantId }, order: { id: 'ASC' } }));
  }

  async update(tenantId: string, id: string, changes: Partial<WebhookEntity>, tx: EntityManager): Promise<boolean> {
    const { affected } = await this.db.within(tx, (manager) => manager.withRepository(this.webhooks).update({ tenantId, id }, changes));
    return affected === 1;
  }

  async delete(tenantId: string, id: string, tx: EntityManager): Promise<boolean> {
    // The deliveries go by cascade; deleted first here too, for an SQLite file opened without foreign keys.
    return this.db.within(tx, async (manager) => {
      await manager.delete(WebhookDeliveryEntity, { tenantId, webhookId: id });
      const { affected } = await manager.delete(WebhookEntity, { tenantId, id });
      return affected === 1;
    });
  }

  /**
   * Replaces the secrets if the row still holds `replacing` (a rotation or a
   * re-encryption racing this one makes it miss) and the tenant's data key is
   * still the one they were encrypted with (the fence). False when nothing changed.
   */
  async replaceSecrets(
    tenantId: string,
    id: string,
    replacing: string,
    changes: Pick<WebhookEntity, 'secret' | 'previousSecret' | 'previousSecretExpiresAt'> & Partial<Pick<WebhookEntity, 'updatedAt'>>,
    fence: WriteFence,
    tx?: EntityManager,
  ): Promise<boolean> {
    const result = await this.db.within(tx, (manager) =>
      manager
        .withRepository(this.webhooks)
        .createQueryBuilder()
        .update()
        .set(changes)
        .where('tenant_id = :tenantId AND id = :id AND secret = :replacing', { tenantId, id, replacing })
        .andWhere(fence.condition, fence.parameters)
        .execute(),
    );
    return result.affected === 1;
  }

  /** Webhooks and their stored secrets (current and previous) per tenant, for keys:status. */
  async countsByTenant(): Promise<{ tenantId: string; webhooks: number; secrets: number }[]> {
    const rows = await this.db.run((manager) =>
      manager
        .withRepository(this.webhooks)
        .createQueryBuilder('w')
        .select('w.tenant_id', 'tenantId')
        .addSelect('COUNT(*)', 'webhooks')
        .addSelect('COUNT(w.previous_secret)', 'previous')
        .groupBy('w.tenant_id')
        .getRawMany<{ tenantId: string; webhooks: string | number; previous: string | number }>(),
    );
    return rows.map((row) => ({
      tenantId: row.tenantId,
      webhooks: Number(row.webhooks),
      secrets: Number(row.webhooks) + Number(row.previous),
    }));
  }

  /** Marks a success: the endpoint is no longer failing. */
  async markAnswering(tenantId: string, id: string): Promise<void> {
    await this.db.run((manager) =>
      manager
        .withRepository(this.webhooks)
        .createQueryBuilder()
        .update()
        .set({ failingSince: null })
        .where('tenant_id = :tenantId AND id = :id AND failing_since IS NOT NULL', { tenantId, id })
        .execute(),
    );
  }

  /** Marks a failure: `failing_since` keeps the first one since the last success. Returns the row after it. */
  async markFailing(tenantId: string, id: string, at: Date): Promise<WebhookEntity | null> {
    await this.db.run((manager) =>
      manager
        .withRepository(this.webhooks)
        .createQueryBuilder()
        .update()
        .set({ failingSince: at })
        .where('tenant_id = :tenantId AND id = :id AND failing_since IS NULL', { tenantId, id })
        .execute(),
    );
    return this.find(tenantId, id);
  }

  /** Disables an endpoint that is still enabled and has been failing since `failingSince`. */
  async disable(tenantId: string, id: string, failingSince: Date, reason: string, at: Date, tx?: EntityManager): Promise<boolean> {
    const result = await this.db.within(tx, (manager) =>
      manager
        .withRepository(this.webhooks)
        .createQueryBuilder()
        .update()
        .set({ enabled: false, disabledReason: reason, updatedAt: at })
        .where('tenant_id = :tenantId AND id = :id AND enabled = :enabled AND failing_since = :failingSince', {
          tenantId,
          id,
          enabled: true,
          failingSince,
        })
        .execute(),
    );
    return result.affected === 1;
  }

  // --- the outbox ---

  /**
   * One statement in the caller's transaction: a row per enabled endpoint of
   * the tenant subscribed to the event. A tenant without such endpoints pays
   * one statement that inserts nothing. (At READ COMMITTED InnoDB reads the
   * webhooks without locking them.)
   */
  async emit(row: OutboxRow, tx: EntityManager): Promise<void> {
    const { driver } = this.db.dataSource;
    const deliveries = driver.escape(this.deliveries.metadata.tableName);
    const webhooks = driver.escape(this.webhooks.metadata.tableName);
    const at = this.dateParam(row.createdAt);
    await tx.query(
      `INSERT INTO ${deliveries} (tenant_id, webhook_id, event_id, event_type, payload, status, attempts, next_attempt_at, lease_until, retry_until, created_at)
       SELECT w.tenant_id, w.id, ?, ?, ?, 'pending', 0, ?, NULL, ?, ? FROM ${webhooks} w
       WHERE w.tenant_id = ? AND w.enabled = ? AND (w.events_mask & ?) <> 0`,
      [row.eventId, row.eventType, row.payload, at, this.dateParam(row.retryUntil), at, row.tenantId, this.boolParam(true), row.bit],
    );
  }

  /**
   * Claims up to `limit` due deliveries of enabled endpoints for this
   * instance until `leaseUntil`. MySQL 8 / MariaDB ≥ 10.6: a locking read
   * that skips rows another instance is claiming (SKIP LOCKED), then the
   * lease, in one short transaction. SQLite and older servers: the same read
   * without a lock; the conditional update of each lease decides, so two
   * claimers of one row cannot both win.
   */
  async claimDue(now: Date, leaseUntil: Date, limit: number): Promise<WebhookDeliveryEntity[]> {
    const { driver } = this.db.dataSource;
    const deliveries = driver.escape(this.deliveries.metadata.tableName);
    const webhooks = driver.escape(this.webhooks.metadata.tableName);
    const due = `SELECT d.tenant_id, d.webhook_id, d.event_id FROM ${deliveries} d
       WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND (d.lease_until IS NULL OR d.lease_until <= ?)
         AND EXISTS (SELECT 1 FROM ${webhooks} w WHERE w.tenant_id = d.tenant_id AND w.id = d.webhook_id AND w.enabled = ?)
       ORDER BY d.next_attempt_at LIMIT ${Math.floor(limit)}`;
    const parameters = [this.dateParam(now), this.dateParam(now), this.boolParam(true)];
    const skipLocked = await this.db.supportsSkipLocked();
    const keys = await this.db.transaction(async (tx) => {
      const rows = await tx.query<{ tenant_id: string; webhook_id: string; event_id: string }[]>(
        skipLocked ? `${due} FOR UPDATE SKIP LOCKED` : due,
        parameters,
      );
      const claimed: DeliveryKey[] = [];
      for (const row of rows) {
        const key = { tenantId: row.tenant_id, webhookId: row.webhook_id, eventId: row.event_id };
        const result = await tx
          .createQueryBuilder()
          .update(WebhookDeliveryEntity)
          .set({ leaseUntil })
          .where('tenant_id = :tenantId AND webhook_id = :webhookId AND event_id = :eventId', key)
          .andWhere("status = 'pending' AND (lease_until IS NULL OR lease_until <= :now)", { now })
          .execute();
        if (result.affected === 1) claimed.push(key);
      }
      return claimed;
    });
    if (keys.length === 0) return [];
    return this.db.run((manager) => manager.withRepository(this.deliveries).find({ where: keys }));
  }

  /** Records an attempt of a delivery this instance holds (`lease`); false when the lease was lost meanwhile. */
  async recordAttempt(
    key: DeliveryKey,
    lease: Date,
    attempt: AttemptRecord,
    outcome: { status: 'delivered' | 'failed' } | { status: 'pending'; nextAttemptAt: Date },
  ): Promise<boolean> {
    const result = await this.db.run((manager) =>
      manager
        .createQueryBuilder()
        .update(WebhookDeliveryEntity)
        .set({
          status: outcome.status,
          attempts: () => 'attempts + 1',
          lastAttemptAt: attempt.at,
          lastStatusCode: attempt.statusCode,
          lastError: attempt.error,
          responseExcerpt: attempt.excerpt,
          leaseUntil: null,
          ...(outcome.status === 'pending' ? { nextAttemptAt: outcome.nextAttemptAt } : {}),
          ...(outcome.status === 'delivered' ? { deliveredAt: attempt.at } : {}),
        })
        .where('tenant_id = :tenantId AND webhook_id = :webhookId AND event_id = :eventId AND lease_until = :lease', { ...key, lease })
        .execute(),
    );
    return result.affected === 1;
  }

  /** Gives a claimed delivery back untouched (its endpoint was disabled or deleted meanwhile, or the instance is stopping). */
  async release(key: DeliveryKey, lease: Date): Promise<void> {
    await this.db.run((manager) =>
      manager
        .createQueryBuilder()
        .update(WebhookDeliveryEntity)
        .set({ leaseUntil: null })
        .where('tenant_id = :tenantId AND webhook_id = :webhookId AND event_id = :eventId AND lease_until = :lease', { ...key, lease })
        .execute(),
    );
  }

  /** A page of an endpoint's deliveries, newest first. */
  deliveriesPage(tenantId: string, webhookId: string, limit: number, offset: number): Promise<[WebhookDeliveryEntity[], number]> {
    return this.db.run((manager) =>
      manager
        .withRepository(this.deliveries)
        .findAndCount({ where: { tenantId, webhookId }, order: { createdAt: 'DESC', eventId: 'DESC' }, take: limit, skip: offset }),
    );
  }

  findDelivery(tenantId: string, webhookId: string, eventId: string): Promise<WebhookDeliveryEntity | null> {
    return this.db.run((manager) => manager.withRepository(this.deliveries).findOneBy({ tenantId, webhookId, eventId }));
  }

  /** Queues a delivery again, due now, with a fresh retry window; false when there is no such delivery. */
  async requeue(key: DeliveryKey, now: Date, retryUntil: Date, tx: EntityManager): Promise<boolean> {
    const result = await this.db.within(tx, (manager) =>
      manager
        .withRepository(this.deliveries)
        .update(key, { status: 'pending', nextAttemptAt: now, retryUntil, leaseUntil: null, deliveredAt: null }),
    );
    return result.affected === 1;
  }

  /**
   * 1 when the tenant in `tenantColumn` (a column of the embedding query) has
   * an enabled webhook, else 0: one probe of the primary key's tenant prefix.
   */
  enabledWebhookProbe(tenantColumn: string): SqlExpression {
    const webhooks = this.db.dataSource.driver.escape(this.webhooks.metadata.tableName);
    return {
      sql: `CASE WHEN EXISTS (SELECT 1 FROM ${webhooks} probe_w WHERE probe_w.tenant_id = ${tenantColumn} AND probe_w.enabled = :probeEnabled) THEN 1 ELSE 0 END`,
      parameters: { probeEnabled: this.boolParam(true) },
    };
  }

  /** A date as a raw statement's parameter, converted as the driver stores it (text on SQLite). */
  private dateParam(value: Date): unknown {
    const column = this.deliveries.metadata.findColumnWithPropertyName('createdAt')!;
    return this.db.dataSource.driver.preparePersistentValue(value, column);
  }

  private boolParam(value: boolean): unknown {
    const column = this.webhooks.metadata.findColumnWithPropertyName('enabled')!;
    return this.db.dataSource.driver.preparePersistentValue(value, column);
  }
}
