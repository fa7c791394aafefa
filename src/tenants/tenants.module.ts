import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { WebhookOutboxModule } from '../webhooks/webhook-outbox.module';
import { AuditModule } from '../audit/audit.module';
import { CryptoModule } from '../crypto/crypto.module';
import { DeletedTenantEntity } from './deleted-tenant.entity';
import { TenantKeysService } from './tenant-keys.service';
import { TenantEntity } from './tenant.entity';
import { TenantsController } from './tenants.controller';
import { TenantsRepository } from './tenants.repository';
import { TenantsService } from './tenants.service';

@Module({
  imports: [TypeOrmModule.forFeature([TenantEntity, DeletedTenantEntity]), CryptoModule, AuditModule, WebhookOutboxModule],
  controllers: [TenantsController],
  providers: [TenantsRepository, TenantsService, TenantKeysService],
  exports: [TenantsService, TenantKeysService],
})
export class TenantsModule {}
