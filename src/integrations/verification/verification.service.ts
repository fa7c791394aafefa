import { Injectable, Logger } from '@nestjs/common';
import { type RequestActor, systemActor } from '../../common/request-actor';
import { IntegrationsService, type RecordedVerification } from '../integrations.service';
import { CredentialCheckService, type VendorTrouble } from './credential-check.service';
import type { HistoryEntry } from './history/verification-history.repository';
import { KEPT_RESULTS } from './history/verification-history.repository';
import { CheckPolicy } from './scheduling/check-policy.service';
import type { VerificationResult } from './verification-result';

/** Who scheduled checks are recorded as, in versions and the audit trail. */
export const SCHEDULER_ACTOR = systemActor('system:scheduler');

/** What a scheduled check came to. */
export type ScheduledCheckOutcome =
  | ({ kind: 'recorded'; status: VerificationResult['status'] } & RecordedVerification)
  /** The vendor was in trouble: nothing is kept, the integration is tried again after the host's pause. */
  | { kind: 'vendor-trouble'; trouble: VendorTrouble };

/** The last result and when the next scheduled check is due (null when checks are off for it). */
export interface VerificationState {
  result: VerificationResult;
  nextCheckAt: Date | null;
}

/**
 * POST …/verify and GET …/verification (issue 6), and the scheduled checks
 * (issue 15). The vendor call happens outside any write: nothing waits on a
 * vendor but the request (or the scheduler's slot) that asked, and the
 * result is kept only on the revision whose credentials were checked. Each
 * check is an audit event (integration.verify), its outcome the result:
 * 200 when the vendor accepted the credentials, 422 when it refused them.
 */
@Injectable()
export class VerificationService {
  private readonly logger = new Logger('Verification');

  constructor(
    private readonly integrations: IntegrationsService,
    private readonly checker: CredentialCheckService,
    private readonly policy: CheckPolicy,
  ) {}

  /**
   * Checks the stored credentials and keeps the result (and, on success, what
   * the vendor taught us: a new version, recorded as `actor`'s); the
   * integrations module commits the result with the check's audit event and
   * the next due time.
   */
  async verifyStored(tenantId: string, id: string, actor: RequestActor): Promise<VerificationResult> {
    const interval = await this.policy.intervalOf(tenantId);
    const stored = await this.integrations.storedCredentials(tenantId, id);
    const check = await this.checker.check(stored.vendor, stored.fields);
    const recording = { trigger: 'manual' as const, nextCheckAt: this.policy.nextDue(interval, check.result.checkedAt) };
    const { kept } = await this.integrations.recordVerification(tenantId, id, stored.revision, check, actor, recording);
    // Status only: the message names accounts, and logs need not.
    this.logger.log(
      `${tenantId}/${id} (${stored.vendor.type}) verified: ${check.result.status}${kept ? '' : ' (not kept: changed meanwhile)'}`,
    );
    return check.result;
  }

  /**
   * A scheduled check of a claimed integration, whose tenant's interval is
   * `intervalSeconds`: recorded like a manual one, as the scheduler's, unless
   * the vendor was in trouble (then nothing is kept: a 503 says nothing
   * about the credentials).
   */
  async verifyScheduled(tenantId: string, id: string, intervalSeconds: number): Promise<ScheduledCheckOutcome> {
    const stored = await this.integrations.storedCredentials(tenantId, id);
    const check = await this.checker.check(stored.vendor, stored.fields);
    if (check.trouble !== undefined) return { kind: 'vendor-trouble', trouble: check.trouble };
    const recording = { trigger: 'scheduled' as const, nextCheckAt: this.policy.nextDue(intervalSeconds, check.result.checkedAt) };
    const recorded = await this.integrations.recordVerification(tenantId, id, stored.revision, check, SCHEDULER_ACTOR, recording);
    return { kind: 'recorded', status: check.result.status, ...recorded };
  }

  /** The last result kept for the integration's current credentials, and when it is checked next. */
  async lastResult(tenantId: string, id: string): Promise<VerificationState> {
    const { result, checkDueAt } = await this.integrations.lastVerification(tenantId, id);
    const interval = await this.policy.intervalOf(tenantId);
    return { result, nextCheckAt: interval > 0 ? checkDueAt : null };
  }

  /** The integration's last checks, newest first. */
  history(tenantId: string, id: string): Promise<HistoryEntry[]> {
    return this.integrations.verificationHistory(tenantId, id, KEPT_RESULTS);
  }
}
