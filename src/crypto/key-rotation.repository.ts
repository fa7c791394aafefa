import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, type Repository } from 'typeorm';
import { DatabaseService } from '../database/database.service';
import { KeyRotationEntity } from './key-rotation.entity';

/** The journal of `keys:rotate` runs: an unfinished run of the same mode and key is resumed, not started again. */
@Injectable()
export class KeyRotationRepository {
  constructor(
    @InjectRepository(KeyRotationEntity) private readonly runs: Repository<KeyRotationEntity>,
    private readonly db: DatabaseService,
  ) {}

  /** The unfinished run of this mode and key, to resume; or a new one. */
  async openRun(mode: 'rewrap' | 'reencrypt', masterKeyId: string): Promise<KeyRotationEntity> {
    const unfinished = await this.db.run((manager) =>
      manager.withRepository(this.runs).findOne({ where: { mode, masterKeyId, finishedAt: IsNull() }, order: { id: 'DESC' } }),
    );
    if (unfinished !== null) return unfinished;
    return this.db.run((manager) =>
      manager
        .withRepository(this.runs)
        .save(manager.withRepository(this.runs).create({ mode, masterKeyId, startedAt: new Date(), finishedAt: null })),
    );
  }

  async finish(run: KeyRotationEntity): Promise<void> {
    await this.db.run((manager) => manager.withRepository(this.runs).update({ id: run.id }, { finishedAt: new Date() }));
  }
}
