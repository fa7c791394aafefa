import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** One `keys:rotate` run; an unfinished row is resumed by the next run of the same mode and key. */
@Entity({ name: 'key_rotations' })
export class KeyRotationEntity {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id!: number;

  @Column({ type: 'varchar', length: 16 })
  mode!: 'rewrap' | 'reencrypt';

  @Column({ name: 'master_key_id', type: 'varchar', length: 32 })
  masterKeyId!: string;

  @Column({ name: 'started_at', type: 'datetime', precision: 3 })
  startedAt!: Date;

  @Column({ name: 'finished_at', type: 'datetime', precision: 3, nullable: true })
  finishedAt!: Date | null;
}
