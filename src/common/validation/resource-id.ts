/**
 * Tenant and integration ids: 1–64 letters, digits, `.`, `_`, `-`. They appear in
 * URLs, in log lines and in the AAD of every ciphertext, so nothing else is allowed.
 */
export const RESOURCE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
export const RESOURCE_ID_MESSAGE = '$property must be 1-64 characters of letters, digits, ".", "_" or "-"';

export function isResourceId(value: unknown): value is string {
  return typeof value === 'string' && RESOURCE_ID_PATTERN.test(value);
}

/** An id quoted in a message: path ids are client input and may be huge. */
export function displayId(id: string): string {
  return id.length > 64 ? `${id.slice(0, 64)}…` : id;
}
