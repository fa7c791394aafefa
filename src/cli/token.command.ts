import { Inject, Injectable } from '@nestjs/common';
import { mintToken } from '../auth/token-minter';
import { CONFIGURATION, type Configuration } from '../config/configuration';

/** `token`: a signed development token with the configured (or generated) HS256 secret. */
@Injectable()
export class TokenCommand {
  constructor(@Inject(CONFIGURATION) private readonly config: Configuration) {}

  mint(options: { subject: string; scopes: string[]; tenants?: string[]; ttlSeconds: number }): string {
    return mintToken(this.config.auth, options);
  }
}
