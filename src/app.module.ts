import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { ThrottlerModule } from '@nestjs/throttler';
import { AuditApiModule } from './audit/audit-api.module';
import { AccessGuard } from './auth/access.guard';
import { AuthModule } from './auth/auth.module';
import { JwtAuthGuard } from './auth/jwt-auth.guard';
import { RateLimitGuard, rateLimitOptions } from './auth/rate-limit.guard';
import { ClientsModule } from './clients/clients.module';
import { AllExceptionsFilter } from './common/filters/all-exceptions.filter';
import { HostileInputPipe } from './common/pipes/hostile-input.pipe';
import { createValidationPipe } from './common/pipes/validation';
import { ConfigModule } from './config/config.module';
import type { Configuration } from './config/configuration';
import { CryptoModule } from './crypto/crypto.module';
import { KeyRingCheckModule } from './crypto/keys.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { IntegrationsModule } from './integrations/integrations.module';
import { CredentialChecksModule } from './integrations/verification/scheduling/credential-checks.module';
import { LoggingModule } from './logging/logging.module';
import { RedisConnections, RedisModule } from './redis/redis.module';
import { TenantsModule } from './tenants/tenants.module';
import { WebhookWorkerModule } from './webhooks/webhook-worker.module';
import { WebhooksModule } from './webhooks/webhooks.module';

/**
 * The whole service. Global pipe, guards and filter are providers here, so a
 * test that compiles AppModule behaves exactly like production.
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
        RedisModule,
        ThrottlerModule.forRootAsync({
          imports: [RedisModule],
          inject: [RedisConnections],
          useFactory: (redis: RedisConnections) => rateLimitOptions(configuration.app, redis),
        }),
        CryptoModule,
        TenantsModule,
        IntegrationsModule,
        // Scheduled re-verification (issue 15): the HTTP service only, never the command line.
        ScheduleModule.forRoot(),
        CredentialChecksModule,
        ClientsModule,
        AuditApiModule,
        ScheduleModule.forRoot(),
        WebhooksModule,
        WebhookWorkerModule,
        KeyRingCheckModule,
        HealthModule,
      ],
      providers: [
        // Global guards run in the order listed: who is calling (never refuses, records why not),
        // then the rate limit (by token subject, or by address without a valid token), then 401/403.
        { provide: APP_GUARD, useClass: JwtAuthGuard },
        { provide: APP_GUARD, useClass: RateLimitGuard },
        { provide: APP_GUARD, useClass: AccessGuard },
        // Global pipes run in this order: a hostile body is refused before the
        // ValidationPipe (and class-transformer) walk it.
        { provide: APP_PIPE, useClass: HostileInputPipe },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
      ],
    };
  }
}
