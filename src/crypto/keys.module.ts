import { Injectable, Module, type OnApplicationBootstrap } from '@nestjs/common';
import { CryptoModule } from './crypto.module';
import { KeyManagementService } from './key-management.service';

/** Refuses to serve with a key ring that cannot read data already stored. */
@Injectable()
class KeyRingCheckOnStart implements OnApplicationBootstrap {
  constructor(private readonly keys: KeyManagementService) {}

  onApplicationBootstrap(): Promise<void> {
    return this.keys.assertRingCoversData();
  }
}

@Module({
  imports: [CryptoModule],
  providers: [KeyManagementService, KeyRingCheckOnStart],
  exports: [KeyManagementService],
})
export class KeysModule {}
