import { Inject, Injectable } from '@nestjs/common';
import { CONFIGURATION, type Configuration } from '../../config/configuration';
import type { VerificationConfig } from '../../config/verification.config';
import type { Vendor } from '../vendors/registry';
import { runVerifier } from './redact';
import { VendorHttpClient } from './vendor-http.client';
import type { VerificationResult } from './verification-result';

/** One credential check: the result, and the server-assigned fields the vendor told us (Salesforce `instance`; empty unless ok). */
export interface CredentialCheck {
  result: VerificationResult;
  learned: Record<string, string>;
}

/**
 * Asks a vendor whether credentials work (issue 6). No database here: callers
 * make the check outside any write, so nothing waits on a vendor but the
 * request that asked.
 */
@Injectable()
export class CredentialCheckService {
  private readonly config: VerificationConfig;
  private readonly http: VendorHttpClient;

  constructor(@Inject(CONFIGURATION) config: Configuration) {
    this.config = config.verification;
    this.http = new VendorHttpClient({ timeoutMs: this.config.timeoutMs });
  }

  /** Whether VERIFY_ON_SAVE asks every write to pass this check first. */
  get onSave(): boolean {
    return this.config.onSave;
  }

  async check(vendor: Vendor, credentials: Readonly<Record<string, string>>): Promise<CredentialCheck> {
    const baseUrl = this.config.baseUrls[vendor.type] ?? vendor.defaultBaseUrl;
    const outcome = await runVerifier(vendor, vendor.verify, credentials, vendor.secretFields, { baseUrl, http: this.http });
    const result: VerificationResult = { status: outcome.ok ? 'ok' : 'failed', message: outcome.message, checkedAt: new Date() };
    // Only fields the vendor definition says the server assigns may be set this way.
    const learned = Object.fromEntries(Object.entries(outcome.updates ?? {}).filter(([field]) => vendor.serverAssignedFields?.includes(field)));
    return { result, learned };
  }
}
