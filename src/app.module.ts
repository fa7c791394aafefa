import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { AuthModule } from './auth/auth.module';
import { AllExceptionsFilter } from './common/filters/all-exceptions.filter';
import { HostileInputPipe } from './common/pipes/hostile-input.pipe';
import { createValidationPipe } from './common/pipes/validation';
import { ConfigModule } from './config/config.module';
import type { Configuration } from './config/configuration';
import { CryptoModule } from './crypto/crypto.module';
import { KeysModule } from './crypto/keys.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { IntegrationsModule } from './integrations/integrations.module';
import { LoggingModule } from './logging/logging.module';
import { TenantsModule } from './tenants/tenants.module';

/**
 * The whole service. Global pipe, guard (AuthModule) and filter are providers
 * here, so a test that compiles AppModule behaves exactly like production.
 */
@Module({})
export class AppModule {
  static forRoot(configuration: Configuration): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(configuration),
        LoggingModule,
        DatabaseModule,
        AuthModule,
        CryptoModule,
        KeysModule,
        TenantsModule,
        IntegrationsModule,
        HealthModule,
      ],
      providers: [
        // Global pipes run in this order: a hostile body is refused before the
        // ValidationPipe (and class-transformer) walk it.
        { provide: APP_PIPE, useClass: HostileInputPipe },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
      ],
    };
  }
}
