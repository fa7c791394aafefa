import { Module } from '@nestjs/common';
import { CryptoModule } from '../crypto/crypto.module';
import { TenantsModule } from '../tenants/tenants.module';
import { IntegrationBodyPipe } from './integration-body.pipe';
import { IntegrationBodyValidator } from './integration-body.validator';
import { IntegrationTypesController } from './integration-types.controller';
import { IntegrationsController } from './integrations.controller';
import { IntegrationsRepository } from './integrations.repository';
import { IntegrationsService } from './integrations.service';
import { VerificationController } from './verification/verification.controller';
import { VerificationService } from './verification/verification.service';

@Module({
  imports: [TenantsModule, CryptoModule],
  controllers: [IntegrationsController, IntegrationTypesController, VerificationController],
  providers: [IntegrationsService, IntegrationsRepository, IntegrationBodyValidator, IntegrationBodyPipe, VerificationService],
  exports: [IntegrationsService],
})
export class IntegrationsModule {}
