import { resolveBaseUrl } from '../integrations/verification/verifier';
import { DEFAULT_VERIFY_TIMEOUT_MS } from '../integrations/verification/vendor-http.client';
import { VENDORS } from '../integrations/vendors/registry';
import { type Env, ConfigError, readBool, readInt } from './config-error';

export interface VerificationConfig {
  /** Deadline of one vendor call, retry included (VendorHttpClient). */
  timeoutMs: number;
  /** Verify the credentials of every POST/PATCH before storing them (422 when the vendor rejects them). */
  onSave: boolean;
  /** Vendor type → base URL without a trailing slash (the real vendor unless its variable says otherwise). */
  baseUrls: Readonly<Record<string, string>>;
}

export function loadVerificationConfig(env: Env): VerificationConfig {
  const baseUrls: Record<string, string> = {};
  for (const vendor of VENDORS) {
    const url = resolveBaseUrl(vendor, env);
    checkBaseUrl(vendor.baseUrlEnv, url);
    baseUrls[vendor.type] = url;
  }
  return {
    timeoutMs: readInt(env, 'VERIFY_TIMEOUT_MS', DEFAULT_VERIFY_TIMEOUT_MS, 100, 120_000),
    onSave: readBool(env, 'VERIFY_ON_SAVE', false),
    baseUrls,
  };
}

/**
 * A base URL is where credentials are sent, so it must be a plain http(s) origin
 * with at most a path: no user info (it would be logged and shown in messages),
 * no query or fragment (paths are appended to it).
 */
function checkBaseUrl(name: string, value: string): void {
  const expected = `${name} must be an http(s) URL like https://api.example.com`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${expected} (got '${value}')`);
  }
  if (url.username !== '' || url.password !== '') throw new ConfigError(`${expected}, without user name or password in it`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${expected} (got the scheme '${url.protocol}')`);
  if (url.search !== '' || url.hash !== '') throw new ConfigError(`${expected}, without query or fragment (got '${value}')`);
}
