import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { HostileInputPipe } from '../common/pipes/hostile-input.pipe';
import { TenantsModule } from '../tenants/tenants.module';
import { IntegrationBodyPipe } from './integration-body.pipe';
import { IntegrationBodyValidator } from './integration-body.validator';
import { IntegrationTypesController } from './integration-types.controller';
import { IntegrationEntity } from './integration.entity';
import { IntegrationsController } from './integrations.controller';
import { IntegrationsRepository } from './integrations.repository';
import { IntegrationsService } from './integrations.service';
import { CredentialCheckService } from './verification/credential-check.service';
import { VerificationController } from './verification/verification.controller';
import { VerificationService } from './verification/verification.service';

@Module({
  imports: [TypeOrmModule.forFeature([IntegrationEntity]), TenantsModule, AuditModule],
  controllers: [IntegrationsController, IntegrationTypesController, VerificationController],
  providers: [
    HostileInputPipe,
    IntegrationsRepository,
    IntegrationsService,
    IntegrationBodyValidator,
    IntegrationBodyPipe,
    CredentialCheckService,
    VerificationService,
  ],
  exports: [IntegrationsService],
})
export class IntegrationsModule {}
