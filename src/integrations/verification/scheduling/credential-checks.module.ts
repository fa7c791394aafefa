import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TenantsModule } from '../../../tenants/tenants.module';
import { IntegrationEntity } from '../../integration.entity';
import { IntegrationsModule } from '../../integrations.module';
import { CheckClaimsRepository } from './check-claims.repository';
import { CheckScheduler } from './check-scheduler.service';

/**
 * Scheduled re-verification (issue 15): the tick and the claims. A module of
 * its own, imported by AppModule only, so the command-line contexts (which
 * import IntegrationsModule) never start it. Needs ScheduleModule.forRoot().
 */
@Module({
  imports: [TypeOrmModule.forFeature([IntegrationEntity]), IntegrationsModule, TenantsModule],
  providers: [CheckClaimsRepository, CheckScheduler],
})
export class CredentialChecksModule {}
