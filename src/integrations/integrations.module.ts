import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { HostileInputPipe } from '../common/pipes/hostile-input.pipe';
import { TenantsModule } from '../tenants/tenants.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { HistoryPruner } from './history/history-pruner';
import { IntegrationVersionEntity } from './history/integration-version.entity';
import { VersionsController } from './history/versions.controller';
import { VersionsRepository } from './history/versions.repository';
import { VersionsService } from './history/versions.service';
import { IntegrationBodyPipe } from './integration-body.pipe';
import { IntegrationBodyValidator } from './integration-body.validator';
import { IntegrationTypesController } from './integration-types.controller';
import { IntegrationEntity } from './integration.entity';
import { IntegrationsController } from './integrations.controller';
import { IntegrationsRepository } from './integrations.repository';
import { IntegrationsService } from './integrations.service';
import { CredentialCheckService } from './verification/credential-check.service';
import { VerificationHistoryRepository } from './verification/history/verification-history.repository';
import { VerificationResultEntity } from './verification/history/verification-result.entity';
import { CheckPolicy } from './verification/scheduling/check-policy.service';
import { VerificationController } from './verification/verification.controller';
import { VerificationService } from './verification/verification.service';

@Module({
  imports: [
    TypeOrmModule.forFeature([IntegrationEntity, IntegrationVersionEntity, VerificationResultEntity]),
    TenantsModule,
    AuditModule,
    WebhooksModule,
  ],
  controllers: [IntegrationsController, IntegrationTypesController, VerificationController, VersionsController],
  providers: [
    HostileInputPipe,
    IntegrationsRepository,
    IntegrationsService,
    VersionsRepository,
    VersionsService,
    // Runs in the CLI's context too (KeysModule imports this module): its first pass waits a whole interval, and passes are safe anywhere.
    HistoryPruner,
    IntegrationBodyValidator,
    IntegrationBodyPipe,
    CredentialCheckService,
    VerificationService,
    VerificationHistoryRepository,
    CheckPolicy,
  ],
  // The scheduler (verification/scheduling, a module of its own so command-line contexts never start it) checks through these.
  exports: [IntegrationsService, VerificationService, CredentialCheckService, CheckPolicy],
})
export class IntegrationsModule {}
