import { Injectable, Module, type OnApplicationBootstrap } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SigningKeysModule } from '../clients/signing-keys.module';
import { IntegrationsModule } from '../integrations/integrations.module';
import { TenantsModule } from '../tenants/tenants.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { CryptoModule } from './crypto.module';
import { KeyManagementService } from './key-management.service';
import { KeyRotationEntity } from './key-rotation.entity';
import { KeyRotationRepository } from './key-rotation.repository';

/** Master-key rotation and reporting (keys:status, keys:rotate), on the tenants', integrations', webhooks' and signing keys' services. */
@Module({
  imports: [TypeOrmModule.forFeature([KeyRotationEntity]), CryptoModule, TenantsModule, IntegrationsModule, SigningKeysModule, WebhooksModule],
  providers: [KeyRotationRepository, KeyManagementService],
  exports: [KeyManagementService],
})
export class KeysModule {}

/** Refuses to serve with a key ring that cannot read data already stored. */
@Injectable()
export class KeyRingCheckOnStart implements OnApplicationBootstrap {
  constructor(private readonly keys: KeyManagementService) {}

  onApplicationBootstrap(): Promise<void> {
    return this.keys.assertRingCoversData();
  }
}

/** The service's start-up check; the CLI leaves it out, so keys:status can still report a ring that lacks a key. */
@Module({
  imports: [KeysModule],
  providers: [KeyRingCheckOnStart],
})
export class KeyRingCheckModule {}
