import type { VendorHttpClient } from './vendor-http.client';

/** What a verifier gets besides the credentials: where the vendor lives and how to call it. */
export interface VerifyContext {
  /** The vendor's base URL without a trailing slash (the real one, or a fake in tests). */
  baseUrl: string;
  http: VendorHttpClient;
}

export interface VerifyOutcome {
  ok: boolean;
  /** Human-readable; runVerifier filters secrets out before it leaves the verifier. */
  message: string;
  /** fields the server learns, e.g. { instance } for Salesforce */
  updates?: Record<string, string>;
}

/**
 * One vendor's credential check. It may throw VendorTimeoutError / VendorNetworkError
 * (the HTTP client does); runVerifier turns those into a failed outcome.
 */
export type VendorVerifier = (
  credentials: Readonly<Record<string, string | undefined>>,
  ctx: VerifyContext,
) => Promise<VerifyOutcome>;

/** The part of a vendor definition that says where its API lives. */
export interface VendorEndpoint {
  readonly baseUrlEnv: string;
  readonly defaultBaseUrl: string;
}

/**
 * The vendor's base URL: the environment variable when set (tests point it at the
 * fakes), else the real vendor. Trailing slashes are dropped so paths join cleanly.
 */
export function resolveBaseUrl(vendor: VendorEndpoint, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[vendor.baseUrlEnv]?.trim();
  return (fromEnv ? fromEnv : vendor.defaultBaseUrl).replace(/\/+$/, '');
}

/**
 * runVerifier calls this first, with the required fields of the vendor's DTO, so a
 * half-filled integration fails with a clear message, not a vendor 400.
 */
export function missingFields(
  credentials: Readonly<Record<string, string | undefined>>,
  names: readonly string[],
): VerifyOutcome | undefined {
  const missing = names.filter((name) => !credentials[name]);
  return missing.length ? { ok: false, message: `cannot verify: missing ${missing.join(', ')}` } : undefined;
}
