import { Global, Inject, Injectable, Logger, Module, type OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { describeDatabase } from '../config/database.config';
import { dataSourceOptions } from './data-source-options';
import { DatabaseService } from './database.service';
import { runMigrations } from './migrate';

@Injectable()
class MigrationsOnStart implements OnModuleInit {
  private readonly logger = new Logger('Database');

  constructor(
    private readonly dataSource: DataSource,
    @Inject(CONFIGURATION) private readonly config: Configuration,
  ) {}

  async onModuleInit(): Promise<void> {
    this.logger.log(`Using ${describeDatabase(this.config.database)}`);
    if (!this.config.database.migrationsRun) return;
    const applied = await runMigrations(this.dataSource);
    if (applied.length > 0) this.logger.log(`Applied migrations: ${applied.map((m) => m.name).join(', ')}`);
  }
}

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [CONFIGURATION],
      // Each module registers its entities with TypeOrmModule.forFeature.
      useFactory: (config: Configuration) => ({ ...dataSourceOptions(config.database), autoLoadEntities: true, retryAttempts: 0 }),
    }),
  ],
  providers: [DatabaseService, MigrationsOnStart],
  exports: [DatabaseService],
})
export class DatabaseModule {}
