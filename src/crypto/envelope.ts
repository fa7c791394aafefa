import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * The one ciphertext format of the service, a versioned string envelope:
 *
 *   enc:v1:<key id>:<96-bit IV>:<ciphertext>:<128-bit GCM tag>   (base64url parts)
 *
 * It names the key that made it, so a ring or a tenant data key can change while
 * old envelopes stay readable, and its AAD (not stored) binds it to where it
 * belongs: an envelope copied elsewhere fails authentication instead of decrypting.
 */
const PREFIX = 'enc:v1:';
const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface ParsedEnvelope {
  keyId: string;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

export class EnvelopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

export function isEnvelope(value: unknown): boolean {
  return typeof value === 'string' && value.startsWith(PREFIX);
}

export function seal(key: Buffer, keyId: string, plaintext: Buffer, aad: Buffer): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const tag = cipher.getAuthTag();
  return `${PREFIX}${keyId}:${iv.toString('base64url')}:${ciphertext.toString('base64url')}:${tag.toString('base64url')}`;
}

export function parseEnvelope(envelope: string): ParsedEnvelope {
  if (!envelope.startsWith(PREFIX)) throw new EnvelopeError('not an enc:v1 envelope');
  const parts = envelope.slice(PREFIX.length).split(':');
  if (parts.length !== 4 || parts[0] === '') throw new EnvelopeError('malformed envelope');
  const [keyId, iv, ciphertext, tag] = parts;
  const parsed = {
    keyId,
    iv: Buffer.from(iv, 'base64url'),
    ciphertext: Buffer.from(ciphertext, 'base64url'),
    tag: Buffer.from(tag, 'base64url'),
  };
  if (parsed.iv.length !== IV_BYTES || parsed.tag.length !== TAG_BYTES) throw new EnvelopeError('malformed envelope');
  return parsed;
}

/** Decrypts and authenticates; throws EnvelopeError (never returns wrong data) on any mismatch. */
export function open(key: Buffer, envelope: ParsedEnvelope, aad: Buffer): Buffer {
  try {
    const decipher = createDecipheriv(ALGORITHM, key, envelope.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(envelope.tag);
    return Buffer.concat([decipher.update(envelope.ciphertext), decipher.final()]);
  } catch {
    throw new EnvelopeError('envelope failed authentication (wrong key, or copied from another place)');
  }
}

/** AAD of a tenant's wrapped data key. Ids cannot hold NUL, so the join is unambiguous. */
export function dataKeyAad(tenantId: string): Buffer {
  return Buffer.from(`integrations-api/data-key/v1\0${tenantId}`);
}

/** AAD of one secret field of one integration. */
export function secretFieldAad(tenantId: string, integrationId: string, field: string): Buffer {
  return Buffer.from(`integrations-api/secret/v1\0${tenantId}\0${integrationId}\0${field}`);
}

/**
 * AAD of one secret field of one kept version (revision) of an integration:
 * its own prefix and the revision, so a version's ciphertext does not decrypt
 * in another version, nor in the integration's row (and a row's not here).
 */
export function versionSecretAad(tenantId: string, integrationId: string, field: string, revision: number): Buffer {
  return Buffer.from(`integrations-api/secret-version/v1\0${tenantId}\0${integrationId}\0${field}\0${revision}`);
}

/** AAD of a webhook's signing secret (issue 15): its own prefix, the tenant, the webhook and which secret (current or previous). */
export function webhookSecretAad(tenantId: string, webhookId: string, field: string): Buffer {
  return Buffer.from(`integrations-api/webhook-secret/v1\0${tenantId}\0${webhookId}\0${field}`);
}

/** AAD of one of the service's token-signing private keys (issue 13), by its key id. */
export function signingKeyAad(kid: string): Buffer {
  return Buffer.from(`integrations-api/signing-key/v1\0${kid}`);
}
