import type { VendorResponse } from './vendor-http.client';

/** Small helpers the per-vendor verifiers share, so each vendor file stays about its vendor. */

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

export function objectOf(json: unknown): Record<string, unknown> {
  return json && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>) : {};
}

export function stringOf(value: unknown): string | undefined {
  if (typeof value === 'string' && value.trim()) return value.trim();
  if (typeof value === 'number') return String(value);
  return undefined;
}

/**
 * A short, readable version of a body we do not otherwise understand (an HTML 500
 * page, a proxy's error): tags stripped, whitespace collapsed, cut. Secrets are
 * filtered later by runVerifier, on the whole message.
 */
export function bodySnippet(response: VendorResponse, max = 160): string {
  const raw = response.json !== undefined ? JSON.stringify(response.json) : response.text;
  const text = raw
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (!text) return '(empty body)';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** "HTTP 500: <snippet>" — the fallback wording for a status a verifier has no special words for. */
export function unexpected(vendorTitle: string, response: VendorResponse): string {
  return `${vendorTitle} answered HTTP ${response.status}: ${bodySnippet(response)}`;
}

/**
 * The failed outcome's wording for a non-2xx answer: a 4xx with the vendor's own
 * error text reads "<Vendor> rejected the credentials: <text>, HTTP 401"; anything
 * else (a 5xx, a 3xx) reads "<Vendor> answered HTTP <status>: <text or body snippet>".
 */
export function failure(vendorTitle: string, response: VendorResponse, vendorText: string | undefined): string {
  if (response.status >= 400 && response.status < 500) {
    const detail = vendorText ?? bodySnippet(response);
    return `${vendorTitle} rejected the credentials: ${detail}, HTTP ${response.status}`;
  }
  // A 5xx says nothing about the credentials: report it as the vendor's trouble, in its own words if any.
  return vendorText
    ? `${vendorTitle} answered HTTP ${response.status}: ${vendorText}`
    : unexpected(vendorTitle, response);
}
