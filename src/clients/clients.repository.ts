import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { type EntityManager, LessThan, MoreThan, type Repository } from 'typeorm';
import { isForeignKeyViolation } from '../database/database-errors';
import { DatabaseService } from '../database/database.service';
import { ApiClientEntity } from './api-client.entity';
import { ClientRevocationEntity } from './client-revocation.entity';

/** What POST /token needs of a client to authenticate it and build its token. */
export type ClientCredentials = Pick<
  ApiClientEntity,
  'id' | 'tenantId' | 'scope' | 'secretHash' | 'previousSecretHash' | 'previousSecretExpiresAt'
>;

/** A revocation as the poll reads it. */
export type Revocation = Pick<ClientRevocationEntity, 'seq' | 'clientId' | 'expiresAt'>;

/**
 * API clients and their revocations. Every method is one operation on
 * DatabaseService (SQLite's single connection is shared safely), through
 * TypeORM's repositories; the writes join the caller's transaction (`tx`),
 * where the change's audit event is appended too.
 */
@Injectable()
export class ClientsRepository {
  constructor(
    @InjectRepository(ApiClientEntity) private readonly clients: Repository<ApiClientEntity>,
    @InjectRepository(ClientRevocationEntity) private readonly revocations: Repository<ClientRevocationEntity>,
    private readonly db: DatabaseService,
  ) {}

  /** False when the tenant is gone (the foreign key refuses the row). */
  async insert(client: ApiClientEntity, tx?: EntityManager): Promise<boolean> {
    try {
      await this.db.within(tx, (manager) => manager.withRepository(this.clients).insert(client));
      return true;
    } catch (error) {
      if (isForeignKeyViolation(error)) return false;
      throw error;
    }
  }

  /** A page of the tenant's clients, oldest first, and their number. */
  page(tenantId: string, limit: number, offset: number): Promise<[ApiClientEntity[], number]> {
    return this.db.run((manager) =>
      manager
        .withRepository(this.clients)
        .findAndCount({ where: { tenantId }, order: { createdAt: 'ASC', id: 'ASC' }, take: limit, skip: offset }),
    );
  }

  find(tenantId: string, id: string): Promise<ApiClientEntity | null> {
    return this.db.run((manager) => manager.withRepository(this.clients).findOneBy({ tenantId, id }));
  }

  /** The client a token request names, whatever its tenant. */
  credentials(id: string): Promise<ClientCredentials | null> {
    return this.db.run((manager) =>
      manager.withRepository(this.clients).findOne({
        select: { id: true, tenantId: true, scope: true, secretHash: true, previousSecretHash: true, previousSecretExpiresAt: true },
        where: { id },
      }),
    );
  }

  /**
   * Replaces the secret `replacing`, which stays valid until `previousExpiresAt`.
   * Conditional on the secret still being `replacing` (the old hash is written
   * from what was read, not from the column: MySQL would evaluate
   * `previous = secret_hash, secret_hash = ?` left to right), so of two
   * rotations at once one lands and the other finds the row changed. False
   * when no row was updated.
   */
  async rotateSecret(
    tenantId: string,
    id: string,
    replacing: string,
    secretHash: string,
    now: Date,
    previousExpiresAt: Date,
    tx?: EntityManager,
  ): Promise<boolean> {
    const result = await this.db.within(tx, (manager) =>
      manager
        .withRepository(this.clients)
        .update(
          { tenantId, id, secretHash: replacing },
          { previousSecretHash: replacing, previousSecretExpiresAt: previousExpiresAt, secretHash, secretCreatedAt: now },
        ),
    );
    return result.affected === 1;
  }

  /** Deletes the client and records its revocation, in the caller's transaction. False when there was no such client. */
  delete(tenantId: string, id: string, revokedAt: Date, expiresAt: Date, tx: EntityManager): Promise<boolean> {
    return this.db.within(tx, async (manager) => {
      const { affected } = await manager.delete(ApiClientEntity, { tenantId, id });
      if (affected !== 1) return false;
      await manager.insert(ClientRevocationEntity, { clientId: id, tenantId, revokedAt, expiresAt });
      return true;
    });
  }

  /** Revocations after `afterSeq` whose tokens may still be alive, in `seq` order. */
  revocationsAfter(afterSeq: number, now: Date, limit: number): Promise<Revocation[]> {
    return this.db.run((manager) =>
      manager.withRepository(this.revocations).find({
        select: { seq: true, clientId: true, expiresAt: true },
        where: { seq: MoreThan(afterSeq), expiresAt: MoreThan(now) },
        order: { seq: 'ASC' },
        take: limit,
      }),
    );
  }

  /** Drops revocations that no live token can need any more. */
  async pruneRevocations(before: Date): Promise<void> {
    await this.db.run((manager) => manager.withRepository(this.revocations).delete({ expiresAt: LessThan(before) }));
  }
}
