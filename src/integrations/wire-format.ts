import type { Vendor } from './vendors/registry';

/** What a GET shows instead of a secret; sent back in a write, it keeps the stored value. */
export const SECRET_MASK = '********';

/** An integration as it travels: flat, kebab-case, `id` and `type` first, then the vendor's fields in order. */
export type IntegrationWire = Record<string, string>;

export function toWire(vendor: Vendor, id: string, fields: Readonly<Record<string, string | undefined>>): IntegrationWire {
  const wire: IntegrationWire = { id, type: vendor.type };
  for (const field of vendor.fields) {
    const value = fields[field.name];
    if (value !== undefined) wire[field.name] = value;
  }
  return wire;
}

/** The integration's version for If-Match / ETag (RFC 9110 §8.8.3). */
export function etagOf(revision: number): string {
  return `"r${revision}"`;
}

/**
 * Whether an If-Match header lets a write go ahead. `*` matches any existing
 * integration; weak tags compare by their opaque part, like the strong ones,
 * since the revision is exact.
 */
export function ifMatchAllows(header: string, revision: number | undefined): boolean {
  if (revision === undefined) return false;
  if (header.trim() === '*') return true;
  const current = etagOf(revision);
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === current);
}
