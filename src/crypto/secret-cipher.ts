import { EnvelopeError, isEnvelope, open, parseEnvelope, seal, secretFieldAad, versionSecretAad, webhookSecretAad } from './envelope';

/** A secret field of an integration's current row. */
export interface IntegrationSecretLocation {
  tenantId: string;
  integrationId: string;
  field: string;
}

/** A secret field of one kept version of an integration (its history): bound to the revision too. */
export interface VersionSecretLocation extends IntegrationSecretLocation {
  revision: number;
}

/** A webhook's signing secret (issue 15): `field` is `secret` or `previous-secret`. */
export interface WebhookSecretLocation {
  tenantId: string;
  webhookId: string;
  field: 'secret' | 'previous-secret';
}

/** Where a secret belongs: its AAD, so a ciphertext moved elsewhere (another row, field or revision) does not decrypt. */
export type SecretLocation = IntegrationSecretLocation | VersionSecretLocation | WebhookSecretLocation;

function aadOf(at: SecretLocation): Buffer {
  if ('webhookId' in at) return webhookSecretAad(at.tenantId, at.webhookId, at.field);
  return 'revision' in at ? versionSecretAad(at.tenantId, at.integrationId, at.field, at.revision) : secretFieldAad(at.tenantId, at.integrationId, at.field);
}

/** Key id written into a secret's envelope: the tenant's data-key version. */
export function dataKeyLabel(version: number): string {
  return `dek-${version}`;
}

/** The data-key version a secret's envelope was made with (its key id, `dek-N`). */
export function envelopeKeyVersion(envelope: string): number {
  const label = parseEnvelope(envelope).keyId;
  const version = /^dek-(\d+)$/.exec(label)?.[1];
  if (version === undefined) throw new EnvelopeError(`envelope names key '${label}', not a data-key version`);
  return Number(version);
}

export class DoubleEncryptionError extends Error {
  constructor(readonly field: string) {
    super(`${field} looks like an encrypted envelope; send the plain value`);
    this.name = 'DoubleEncryptionError';
  }
}

/** Encrypts one secret field under a tenant's data key. Refuses a value that already is an envelope. */
export function encryptSecret(dataKey: Buffer, dataKeyVersion: number, at: SecretLocation, plaintext: string): string {
  if (isEnvelope(plaintext)) throw new DoubleEncryptionError(at.field);
  return seal(dataKey, dataKeyLabel(dataKeyVersion), Buffer.from(plaintext, 'utf8'), aadOf(at));
}

/**
 * Decrypts one secret field. Throws EnvelopeError when the envelope was made by
 * another data-key version or for another place; it never returns wrong data.
 */
export function decryptSecret(dataKey: Buffer, dataKeyVersion: number, at: SecretLocation, envelope: string): string {
  const parsed = parseEnvelope(envelope);
  if (parsed.keyId !== dataKeyLabel(dataKeyVersion)) {
    throw new EnvelopeError(`envelope made by ${parsed.keyId}, tenant is on ${dataKeyLabel(dataKeyVersion)}`);
  }
  return open(dataKey, parsed, aadOf(at)).toString('utf8');
}
