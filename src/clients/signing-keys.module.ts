import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { CryptoModule } from '../crypto/crypto.module';
import { SigningKeyEntity } from './signing-key.entity';
import { SigningKeysRepository } from './signing-keys.repository';
import { SigningKeysService } from './signing-keys.service';

/**
 * The token-signing keys on their own, without HTTP or timers: the API's
 * clients module uses them, and so do the operator commands (keys:rotate,
 * keys:status, keys:rotate-signing) in their application context.
 */
@Module({
  imports: [TypeOrmModule.forFeature([SigningKeyEntity]), CryptoModule, AuditModule],
  providers: [SigningKeysRepository, SigningKeysService],
  exports: [SigningKeysService],
})
export class SigningKeysModule {}
