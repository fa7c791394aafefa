import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * API client credentials (issue 13). The id is not a secret (RFC 6749 §2.2)
 * but is unguessable; the secret carries 256 bits of randomness, is shown
 * once, and only its scrypt hash is stored, with the parameters and salt in
 * the stored string, so they can be raised later without breaking old hashes:
 *
 *   $scrypt$ln=14,r=8,p=1$<salt, base64url>$<32-byte hash, base64url>
 *
 * With 256 random bits no hash is needed against guessing; the slow hash is
 * there so that a copy of the table is worth nothing even to someone with
 * time. N = 2^14, r = 8 (16 MiB, a few tens of ms) is scrypt's interactive
 * setting; its cost per token request is paid in libuv's thread pool, and
 * failed attempts are limited per client id and per address before any hash.
 */
export const SCRYPT_COST = { ln: 14, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Bounds on parameters read back from the database: a tampered row must not make us allocate gigabytes. */
const BOUNDS = { ln: [10, 20], r: [1, 32], p: [1, 16] } as const;
const STORED = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{43})$/;

/** `ic-` and 24 hex digits: fits the id rules of paths, forms and HTTP Basic without escaping. */
export function newClientId(): string {
  return `ic-${randomBytes(12).toString('hex')}`;
}

/** `ics-` and 256 random bits in base64url; the prefix lets secret scanners recognise a leaked one. */
export function newClientSecret(): string {
  return `ics-${randomBytes(32).toString('base64url')}`;
}

function derive(secret: string, salt: Buffer, cost: { ln: number; r: number; p: number }): Promise<Buffer> {
  const N = 2 ** cost.ln;
  const options: ScryptOptions = { N, r: cost.r, p: cost.p, maxmem: 256 * N * cost.r * cost.p + 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(secret, salt, HASH_BYTES, options, (error, key) => (error ? reject(error) : resolve(key))));
}

export async function hashSecret(secret: string, cost: { ln: number; r: number; p: number } = SCRYPT_COST): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(secret, salt, cost);
  return `$scrypt$ln=${cost.ln},r=${cost.r},p=${cost.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/** Whether `secret` is the one `stored` was made from; false for a stored string it cannot read. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const match = STORED.exec(stored);
  if (match === null) return false;
  const cost = { ln: Number(match[1]), r: Number(match[2]), p: Number(match[3]) };
  for (const name of ['ln', 'r', 'p'] as const) {
    const [min, max] = BOUNDS[name];
    if (cost[name] < min || cost[name] > max) return false;
  }
  const expected = Buffer.from(match[5], 'base64url');
  const actual = await derive(secret, Buffer.from(match[4], 'base64url'), cost);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

let dummy: Promise<string> | undefined;

/**
 * A hash of a random secret nobody knows, with the current cost: an unknown
 * client id is checked against it, so that it takes as long to answer as a
 * known id with a wrong secret.
 */
export function dummyHash(): Promise<string> {
  dummy ??= hashSecret(randomBytes(32).toString('base64url'));
  return dummy;
}
