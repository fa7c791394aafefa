import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { type EntityManager, IsNull, LessThan, MoreThan, Not, type Repository } from 'typeorm';
import { DatabaseService } from '../database/database.service';
import { SigningKeyEntity } from './signing-key.entity';

/** The service's token-signing keys. Every method is one operation on DatabaseService, or joins the caller's transaction (`tx`). */
@Injectable()
export class SigningKeysRepository {
  constructor(
    @InjectRepository(SigningKeyEntity) private readonly keys: Repository<SigningKeyEntity>,
    private readonly db: DatabaseService,
  ) {}

  /** The keys to publish and accept: the signing one(s) and retired ones whose tokens may still be alive; newest first. */
  published(now: Date): Promise<SigningKeyEntity[]> {
    return this.db.run((manager) =>
      manager
        .withRepository(this.keys)
        .find({ where: [{ retiredAt: IsNull() }, { publishUntil: MoreThan(now) }], order: { createdAt: 'DESC', kid: 'ASC' } }),
    );
  }

  all(): Promise<SigningKeyEntity[]> {
    return this.db.run((manager) => manager.withRepository(this.keys).find({ order: { createdAt: 'ASC', kid: 'ASC' } }));
  }

  async insert(key: SigningKeyEntity, tx?: EntityManager): Promise<void> {
    await this.db.within(tx, (manager) => manager.withRepository(this.keys).insert(key));
  }

  /** Retires every signing key but `kid`: they keep being published until `publishUntil`. */
  async retireAllBut(kid: string, now: Date, publishUntil: Date, tx?: EntityManager): Promise<string[]> {
    const work = async (manager: EntityManager): Promise<string[]> => {
      const current = await manager.find(SigningKeyEntity, { select: { kid: true }, where: { retiredAt: IsNull(), kid: Not(kid) } });
      if (current.length === 0) return [];
      await manager.update(SigningKeyEntity, { retiredAt: IsNull(), kid: Not(kid) }, { retiredAt: now, publishUntil });
      return current.map((key) => key.kid);
    };
    return tx === undefined ? this.db.transaction(work) : work(tx);
  }

  /** Stores a key re-wrapped under another master key, if it is still under `expectedMasterKeyId`. */
  async updateWrap(
    kid: string,
    expectedMasterKeyId: string,
    privateKeyWrapped: string,
    masterKeyId: string,
    tx?: EntityManager,
  ): Promise<boolean> {
    const result = await this.db.within(tx, (manager) =>
      manager.withRepository(this.keys).update({ kid, masterKeyId: expectedMasterKeyId }, { privateKeyWrapped, masterKeyId }),
    );
    return result.affected === 1;
  }

  /** Deletes retired keys past their publication: no token they signed is alive. */
  async deleteUnpublished(now: Date, tx?: EntityManager): Promise<number> {
    const result = await this.db.within(tx, (manager) =>
      manager.withRepository(this.keys).delete({ retiredAt: Not(IsNull()), publishUntil: LessThan(now) }),
    );
    return result.affected ?? 0;
  }
}
