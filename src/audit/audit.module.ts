import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditChainAnchorEntity } from './audit-chain-anchor.entity';
import { AuditEventEntity } from './audit-event.entity';
import { AuditVerifier } from './audit-verifier';
import { AuditRepository } from './audit.repository';
import { AuditService } from './audit.service';

/**
 * The audit trail's core: appending (AuditService, which the tenants,
 * clients, signing-keys and integrations modules use inside their own
 * transactions), reading, pruning and verifying. No HTTP and no timers, so
 * the operator commands load it too.
 */
@Module({
  imports: [TypeOrmModule.forFeature([AuditEventEntity, AuditChainAnchorEntity])],
  providers: [AuditRepository, AuditService, AuditVerifier],
  exports: [AuditService, AuditVerifier],
})
export class AuditModule {}
