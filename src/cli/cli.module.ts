import { type DynamicModule, Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { SigningKeysModule } from '../clients/signing-keys.module';
import { ConfigModule } from '../config/config.module';
import type { Configuration } from '../config/configuration';
import { RedisModule } from '../redis/redis.module';
import { KeysModule } from '../crypto/keys.module';
import { DatabaseModule } from '../database/database.module';
import { AuditVerifyCommand } from './audit-verify.command';
import { KeysCommand } from './keys.command';
import { SigningKeysCommand } from './signing-keys.command';
import { TokenCommand } from './token.command';

/**
 * The operator commands' application context (NestFactory.createApplicationContext):
 * the same modules and services as the API, without HTTP. Only the key and
 * audit commands open the database.
 */
@Module({})
export class CliModule {
  static forRoot(configuration: Configuration, needs: 'token' | 'keys' | 'audit'): DynamicModule {
    if (needs === 'token') return { module: CliModule, imports: [ConfigModule.forRoot(configuration)], providers: [TokenCommand] };
    if (needs === 'audit') {
      return {
        module: CliModule,
        imports: [ConfigModule.forRoot(configuration), DatabaseModule, AuditModule],
        providers: [AuditVerifyCommand],
      };
    }
    return {
      module: CliModule,
      // RedisModule: a key rotation tells the serving instances to drop their cached data keys.
      imports: [ConfigModule.forRoot(configuration), DatabaseModule, RedisModule, KeysModule, SigningKeysModule],
      providers: [KeysCommand, SigningKeysCommand],
    };
  }
}
