import { Inject, Injectable } from '@nestjs/common';
import { CONFIGURATION, type Configuration } from '../../config/configuration';
import type { VerificationConfig } from '../../config/verification.config';
import type { Vendor } from '../vendors/registry';
import { runVerifier } from './redact';
import { parseRetryAfter } from './scheduling/host-limiter';
import { VendorHttpClient, VendorNetworkError, type VendorRequest, type VendorResponse, VendorTimeoutError } from './vendor-http.client';
import type { VerificationResult } from './verification-result';

/** One credential check: the result, and the server-assigned fields the vendor told us (Salesforce `instance`; empty unless ok). */
export interface CredentialCheck {
  result: VerificationResult;
  learned: Record<string, string>;
  /**
   * Set on a failed check when the vendor itself was in trouble (429, a 5xx,
   * no answer in time, unreachable): the failure says nothing about the
   * credentials. Scheduled checks back off and try again instead of keeping it.
   */
  trouble?: VendorTrouble;
}

export interface VendorTrouble {
  /** `HTTP 429`, `HTTP 503`, `VendorTimeoutError`, `VendorNetworkError`: no URL, no body (they can hold credentials). */
  reason: string;
  /** The vendor's Retry-After, in ms, when it sent one. */
  retryAfterMs?: number;
}

/** The vendor client of one check, noting answers and errors that are the vendor's trouble rather than the credentials'. */
class TroubleNotingClient extends VendorHttpClient {
  trouble: VendorTrouble | undefined;

  override async request(request: VendorRequest): Promise<VendorResponse> {
    try {
      const response = await super.request(request);
      if (response.status === 429 || response.status >= 500) {
        this.trouble = { reason: `HTTP ${response.status}`, retryAfterMs: parseRetryAfter(response.headers['retry-after']) };
      }
      return response;
    } catch (error) {
      // A malformed request or URL is ours to fix, not the vendor's: that one stays a failure.
      const ours = error instanceof VendorNetworkError && (error.code === 'EINVALIDURL' || error.code === 'EREQUEST');
      if ((error instanceof VendorTimeoutError || error instanceof VendorNetworkError) && !ours) this.trouble = { reason: error.name };
      throw error;
    }
  }
}

/**
 * Asks a vendor whether credentials work (issue 6). No database here: callers
 * make the check outside any write, so nothing waits on a vendor but the
 * request that asked.
 */
@Injectable()
export class CredentialCheckService {
  private readonly config: VerificationConfig;
  constructor(@Inject(CONFIGURATION) config: Configuration) {
    this.config = config.verification;
  }

  /** The host (and port) a vendor's checks go to: what VERIFY_HOST_CONCURRENCY and backoff count by. */
  hostOf(vendor: Vendor): string {
    return new URL(this.config.baseUrls[vendor.type] ?? vendor.defaultBaseUrl).host;
  }

  /** Whether VERIFY_ON_SAVE asks every write to pass this check first. */
  get onSave(): boolean {
    return this.config.onSave;
  }

  async check(vendor: Vendor, credentials: Readonly<Record<string, string>>): Promise<CredentialCheck> {
    const baseUrl = this.config.baseUrls[vendor.type] ?? vendor.defaultBaseUrl;
    // A client per check (it holds no connections: global fetch pools them), so what it notes belongs to this check alone.
    const http = new TroubleNotingClient({ timeoutMs: this.config.timeoutMs });
    const outcome = await runVerifier(vendor, vendor.verify, credentials, vendor.secretFields, { baseUrl, http });
    const result: VerificationResult = { status: outcome.ok ? 'ok' : 'failed', message: outcome.message, checkedAt: new Date() };
    // Only fields the vendor definition says the server assigns may be set this way.
    const learned = Object.fromEntries(Object.entries(outcome.updates ?? {}).filter(([field]) => vendor.serverAssignedFields?.includes(field)));
    return !outcome.ok && http.trouble !== undefined ? { result, learned, trouble: http.trouble } : { result, learned };
  }
}
