import { Inject, Injectable } from '@nestjs/common';
import { SigningKeysService } from '../clients/signing-keys.service';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { describeDatabase } from '../config/database.config';
import { cliActor } from './cli-actor';

/**
 * `keys:rotate-signing`: a new token-signing key (issue 13). Running
 * instances sign with it within seconds (and accept its tokens at once: an
 * unknown kid makes them read the keys again); the keys it replaces stay
 * published until every token they signed has expired, then this command
 * deletes them on a later run.
 */
@Injectable()
export class SigningKeysCommand {
  constructor(
    private readonly keys: SigningKeysService,
    @Inject(CONFIGURATION) private readonly config: Configuration,
  ) {}

  async rotate(): Promise<number> {
    process.stderr.write(`Database: ${describeDatabase(this.config.database)}\n`);
    const rotation = await this.keys.rotate(cliActor());
    const lines = [`New token-signing key '${rotation.kid}' (ES256): new tokens are signed with it.`];
    if (rotation.retired.length > 0) {
      lines.push(`  retired: ${rotation.retired.map((kid) => `'${kid}'`).join(', ')}, still published (and accepted) until ${rotation.publishUntil.toISOString()}`);
    }
    if (rotation.deleted > 0) lines.push(`  deleted: ${rotation.deleted} retired key${rotation.deleted === 1 ? '' : 's'} whose tokens have all expired`);
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  }
}
