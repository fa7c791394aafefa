import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { TenantsModule } from '../tenants/tenants.module';
import { ApiClientEntity } from './api-client.entity';
import { ApiClientsController } from './api-clients.controller';
import { ApiClientsService } from './api-clients.service';
import { AuthStatePoller } from './auth-state.poller';
import { ClientRevocationEntity } from './client-revocation.entity';
import { ClientsRepository } from './clients.repository';
import { RevocationsService } from './revocations.service';
import { ServiceTokenStrategy } from './service-token.strategy';
import { SigningKeysModule } from './signing-keys.module';
import { TokenAttemptLimiter } from './token-attempts';
import { TokenController } from './token.controller';
import { TokenService } from './token.service';
import { WellKnownController } from './well-known.controller';

/**
 * API clients and the service's own authorization server (issue 13): the
 * clients of each tenant, POST /token (client credentials), the JWKS and
 * RFC 8414 metadata, the passport strategy that checks the tokens it signs,
 * and the poll that keeps revocations and signing keys current on every
 * instance. Needs ThrottlerModule (the failure counts of POST /token).
 */
@Module({
  imports: [TypeOrmModule.forFeature([ApiClientEntity, ClientRevocationEntity]), AuthModule, TenantsModule, SigningKeysModule, AuditModule],
  controllers: [ApiClientsController, TokenController, WellKnownController],
  providers: [
    ClientsRepository,
    ApiClientsService,
    RevocationsService,
    TokenAttemptLimiter,
    TokenService,
    ServiceTokenStrategy,
    AuthStatePoller,
  ],
  exports: [ApiClientsService],
})
export class ClientsModule {}
