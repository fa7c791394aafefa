import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, LessThan, MoreThan, Not, type Repository } from 'typeorm';
import { DatabaseService } from '../database/database.service';
import { SigningKeyEntity } from './signing-key.entity';

/** The service's token-signing keys. Every method is one operation on DatabaseService. */
@Injectable()
export class SigningKeysRepository {
  constructor(
    @InjectRepository(SigningKeyEntity) private readonly keys: Repository<SigningKeyEntity>,
    private readonly db: DatabaseService,
  ) {}

  /** The keys to publish and accept: the signing one(s) and retired ones whose tokens may still be alive; newest first. */
  published(now: Date): Promise<SigningKeyEntity[]> {
    return this.db.run((manager) =>
      manager.withRepository(this.keys).find({ where: [{ retiredAt: IsNull() }, { publishUntil: MoreThan(now) }], order: { createdAt: 'DESC', kid: 'ASC' } }),
    );
  }

  all(): Promise<SigningKeyEntity[]> {
    return this.db.run((manager) => manager.withRepository(this.keys).find({ order: { createdAt: 'ASC', kid: 'ASC' } }));
  }

  async insert(key: SigningKeyEntity): Promise<void> {
    await this.db.run((manager) => manager.withRepository(this.keys).insert(key));
  }

  /** Retires every signing key but `kid`: they keep being published until `publishUntil`. */
  async retireAllBut(kid: string, now: Date, publishUntil: Date): Promise<string[]> {
    return this.db.transaction(async (manager) => {
      const current = await manager.find(SigningKeyEntity, { select: { kid: true }, where: { retiredAt: IsNull(), kid: Not(kid) } });
      if (current.length === 0) return [];
      await manager.update(SigningKeyEntity, { retiredAt: IsNull(), kid: Not(kid) }, { retiredAt: now, publishUntil });
      return current.map((key) => key.kid);
    });
  }

  /** Stores a key re-wrapped under another master key, if it is still under `expectedMasterKeyId`. */
  async updateWrap(kid: string, expectedMasterKeyId: string, privateKeyWrapped: string, masterKeyId: string): Promise<boolean> {
    const result = await this.db.run((manager) => manager.withRepository(this.keys).update({ kid, masterKeyId: expectedMasterKeyId }, { privateKeyWrapped, masterKeyId }));
    return result.affected === 1;
  }

  /** Deletes retired keys past their publication: no token they signed is alive. */
  async deleteUnpublished(now: Date): Promise<number> {
    const result = await this.db.run((manager) => manager.withRepository(this.keys).delete({ retiredAt: Not(IsNull()), publishUntil: LessThan(now) }));
    return result.affected ?? 0;
  }
}
