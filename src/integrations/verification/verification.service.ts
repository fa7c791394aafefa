import { Injectable, Logger } from '@nestjs/common';
import type { RequestActor } from '../../common/request-actor';
import { IntegrationsService } from '../integrations.service';
import { CredentialCheckService } from './credential-check.service';
import type { VerificationResult } from './verification-result';

/**
 * POST …/verify and GET …/verification (issue 6). The vendor call happens
 * outside any write: nothing waits on a vendor but the request that asked,
 * and the result is kept only on the revision whose credentials were checked.
 * Each check is an audit event (integration.verify), its outcome the result:
 * 200 when the vendor accepted the credentials, 422 when it refused them.
 */
@Injectable()
export class VerificationService {
  private readonly logger = new Logger('Verification');

  constructor(
    private readonly integrations: IntegrationsService,
    private readonly checker: CredentialCheckService,
  ) {}

  /**
   * Checks the stored credentials and keeps the result (and, on success, what
   * the vendor taught us: a new version, recorded as `actor`'s); the
   * integrations module commits the result with the check's audit event.
   */
  async verifyStored(tenantId: string, id: string, actor: RequestActor): Promise<VerificationResult> {
    const stored = await this.integrations.storedCredentials(tenantId, id);
    const check = await this.checker.check(stored.vendor, stored.fields);
    const kept = await this.integrations.recordVerification(tenantId, id, stored.revision, check, actor);
    // Status only: the message names accounts, and logs need not.
    this.logger.log(
      `${tenantId}/${id} (${stored.vendor.type}) verified: ${check.result.status}${kept ? '' : ' (not kept: changed meanwhile)'}`,
    );
    return check.result;
  }

  /** The last result kept for the integration's current credentials. */
  lastResult(tenantId: string, id: string): Promise<VerificationResult> {
    return this.integrations.lastVerification(tenantId, id);
  }
}
