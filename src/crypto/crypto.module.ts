import { Module } from '@nestjs/common';
import { DataKeyService } from './data-key.service';

@Module({
  providers: [DataKeyService],
  exports: [DataKeyService],
})
export class CryptoModule {}
