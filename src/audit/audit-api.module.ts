import { Module } from '@nestjs/common';
import { TenantsModule } from '../tenants/tenants.module';
import { AuditRetentionJob } from './audit-retention.job';
import { AuditTrailReader } from './audit-trail.reader';
import { AuditController } from './audit.controller';
import { AuditModule } from './audit.module';

/** The service's side of the trail: GET /tenants/:iid/audit, GET /platform/audit, and the retention prune. */
@Module({
  imports: [AuditModule, TenantsModule],
  controllers: [AuditController],
  providers: [AuditTrailReader, AuditRetentionJob],
  exports: [AuditRetentionJob],
})
export class AuditApiModule {}
