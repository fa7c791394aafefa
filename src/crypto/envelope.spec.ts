import { randomBytes } from 'node:crypto';
import { EnvelopeError, isEnvelope, open, parseEnvelope, seal, secretFieldAad } from './envelope';
import { decryptSecret, DoubleEncryptionError, encryptSecret } from './secret-cipher';

describe('enc:v1 envelopes', () => {
  const key = randomBytes(32);
  const at = { tenantId: 'acme', integrationId: 'twilio', field: 'password' };

  it('round-trips and names its key', () => {
    const envelope = encryptSecret(key, 3, at, 'Token ✓');
    expect(envelope).toMatch(/^enc:v1:dek-3:/);
    expect(isEnvelope(envelope)).toBe(true);
    expect(decryptSecret(key, 3, at, envelope)).toBe('Token ✓');
  });

  it('uses a fresh IV every time', () => {
    expect(encryptSecret(key, 1, at, 'same')).not.toBe(encryptSecret(key, 1, at, 'same'));
  });

  it.each([
    ['another tenant', { ...at, tenantId: 'other' }],
    ['another integration', { ...at, integrationId: 'sendgrid' }],
    ['another field', { ...at, field: 'api-key' }],
  ])('does not decrypt in %s (AAD binds it to its place)', (_case, elsewhere) => {
    const envelope = encryptSecret(key, 1, at, 'Token');
    expect(() => decryptSecret(key, 1, elsewhere, envelope)).toThrow(EnvelopeError);
  });

  it('binds a version\'s secret to its revision, apart from the integration\'s row', () => {
    const v3 = { ...at, revision: 3 };
    const envelope = encryptSecret(key, 1, v3, 'Token');
    expect(decryptSecret(key, 1, v3, envelope)).toBe('Token');
    expect(() => decryptSecret(key, 1, { ...at, revision: 4 }, envelope)).toThrow(EnvelopeError);
    expect(() => decryptSecret(key, 1, at, envelope)).toThrow(EnvelopeError);
    expect(() => decryptSecret(key, 1, v3, encryptSecret(key, 1, at, 'Token'))).toThrow(EnvelopeError);
  });

  it('refuses a wrong key, a wrong key version, and any tampering', () => {
    const envelope = encryptSecret(key, 1, at, 'Token');
    expect(() => decryptSecret(randomBytes(32), 1, at, envelope)).toThrow(EnvelopeError);
    expect(() => decryptSecret(key, 2, at, envelope)).toThrow(/dek-1/);
    const parts = envelope.split(':');
    const flipped = Buffer.from(parts[5], 'base64url');
    flipped[0] ^= 1;
    parts[5] = flipped.toString('base64url');
    expect(() => decryptSecret(key, 1, at, parts.join(':'))).toThrow(EnvelopeError);
    expect(() => parseEnvelope('enc:v1:broken')).toThrow(EnvelopeError);
  });

  it('refuses to encrypt something that already is an envelope', () => {
    const envelope = encryptSecret(key, 1, at, 'Token');
    expect(() => encryptSecret(key, 1, at, envelope)).toThrow(DoubleEncryptionError);
  });

  it('seal/open work on raw bytes with any AAD', () => {
    const aad = secretFieldAad('t', 'i', 'f');
    const sealed = seal(key, 'k', Buffer.from([0, 1, 2]), aad);
    expect([...open(key, parseEnvelope(sealed), aad)]).toEqual([0, 1, 2]);
  });
});
