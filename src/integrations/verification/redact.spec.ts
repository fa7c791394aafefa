import { MASK, redactSecrets, runVerifier } from './redact';
import { VendorHttpClient, VendorNetworkError, VendorTimeoutError } from './vendor-http.client';
import type { VendorVerifier, VerifyContext } from './verifier';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

describe('redactSecrets', () => {
  it('masks every occurrence of a secret', () => {
    expect(redactSecrets('token s3cr3t-value, again s3cr3t-value', ['s3cr3t-value'])).toBe(
      `token ${MASK}, again ${MASK}`,
    );
  });

  it('masks URL-encoded and form-encoded forms', () => {
    const secret = 'p@ss w+rd/x';
    const text = `q=${encodeURIComponent(secret)} form=${new URLSearchParams({ p: secret }).toString().slice(2)}`;
    expect(redactSecrets(text, [secret])).toBe(`q=${MASK} form=${MASK}`);
  });

  it('masks a Basic auth header that carries the secret after any user name', () => {
    const header = `Basic ${b64('someone-we-do-not-know:s3cr3t-value')}`;
    expect(redactSecrets(`authorization=${header}`, ['s3cr3t-value'])).toBe(`authorization=Basic ${MASK}`);
  });

  it('masks a base64 blob glued to other characters (any alignment)', () => {
    for (const prefix of ['', 'a', 'ab', 'abc']) {
      const text = `x ${prefix}${b64('user:s3cr3t-value')} y`;
      expect(redactSecrets(text, ['s3cr3t-value'])).toBe(`x ${MASK} y`);
    }
  });

  it('masks the base64 of the secret alone and its JSON-escaped form', () => {
    const secret = 'quote"back\\slash';
    const text = `${b64(secret)} ${JSON.stringify({ s: secret })}`;
    expect(redactSecrets(text, [secret])).toBe(`${MASK} {"s":"${MASK}"}`);
  });

  it('masks a secret containing another secret whole', () => {
    expect(redactSecrets('pw=passwordTOKEN!', ['password', 'passwordTOKEN!'])).toBe(`pw=${MASK}`);
  });

  it('masks both halves of a concatenation (Salesforce password + token)', () => {
    expect(redactSecrets('password=hunter2XYZtoken99', ['hunter2XYZ', 'token99'])).toBe(`password=${MASK}${MASK}`);
  });

  it('ignores undefined and empty secrets, and leaves ordinary words alone', () => {
    expect(redactSecrets('Salesforce rejected the login', [undefined, '', 'Zq9-unrelated'])).toBe(
      'Salesforce rejected the login',
    );
  });

  it('flattens the text to one line', () => {
    expect(redactSecrets('line one\n\n  line\ttwo\r\n', [])).toBe('line one line two');
  });

  it('cuts long text to 300 characters, after masking', () => {
    const secret = 'ABCDEFGHsecret';
    const cut = redactSecrets(`${'x'.repeat(295)}${secret}${'y'.repeat(500)}`, [secret]);
    expect(cut).toHaveLength(300);
    expect(cut.endsWith('…')).toBe(true);
    expect(cut).not.toContain('ABCD');
    expect(cut.startsWith(`${'x'.repeat(295)}****`)).toBe(true);
  });
});

describe('runVerifier', () => {
  const ctx: VerifyContext = { baseUrl: 'http://127.0.0.1:1', http: new VendorHttpClient({ timeoutMs: 500 }) };
  const salesforce = { type: 'salesforce', title: 'Salesforce' };
  const credentials = { username: 'dev@userevents.com', password: 'Pa55-word-value', 'secret-token': 'TOKEN-value' };
  const secretFields = new Set(['password', 'secret-token']);
  const run = (verifier: VendorVerifier, vendor: string | typeof salesforce = salesforce) =>
    runVerifier(vendor, verifier, credentials, secretFields, ctx);

  it('passes a verifier outcome through, message redacted', async () => {
    const outcome = await run(() =>
      Promise.resolve({ ok: false, message: 'vendor says: bad password Pa55-word-value with TOKEN-value' }),
    );
    expect(outcome).toEqual({ ok: false, message: `vendor says: bad password ${MASK} with ${MASK}` });
  });

  it('redacts an ok message too, and keeps clean updates', async () => {
    const outcome = await run(() =>
      Promise.resolve({ ok: true, message: 'ok Pa55-word-value', updates: { instance: 'https://na1.example.test' } }),
    );
    expect(outcome).toEqual({ ok: true, message: `ok ${MASK}`, updates: { instance: 'https://na1.example.test' } });
  });

  it('drops updates that contain a secret, and all updates of a failure', async () => {
    const leaky = await run(() =>
      Promise.resolve({ ok: true, message: 'ok', updates: { instance: 'https://x.test/?p=Pa55-word-value' } }),
    );
    expect(leaky).toEqual({ ok: true, message: 'ok' });
    const failed = await run(() =>
      Promise.resolve({ ok: false, message: 'no', updates: { instance: 'https://x.test' } }),
    );
    expect(failed).toEqual({ ok: false, message: 'no' });
  });

  it('turns a timeout into "<Vendor> did not answer"', async () => {
    const outcome = await run(() => Promise.reject(new VendorTimeoutError(500)));
    expect(outcome).toEqual({ ok: false, message: 'Salesforce did not answer: timed out after 500 ms' });
  });

  it('uses the type as the name when given a string', async () => {
    const outcome = await run(() => Promise.reject(new VendorTimeoutError(500)), 'salesforce');
    expect(outcome.message).toBe('salesforce did not answer: timed out after 500 ms');
  });

  it('turns a network error into "could not reach <vendor>"', async () => {
    const error = new VendorNetworkError(
      'connection refused by 127.0.0.1:9 (ECONNREFUSED), 2 attempts',
      'ECONNREFUSED',
      2,
    );
    const outcome = await run(() => Promise.reject(error));
    expect(outcome).toEqual({
      ok: false,
      message: 'could not reach Salesforce: connection refused by 127.0.0.1:9 (ECONNREFUSED), 2 attempts',
    });
  });

  it('turns any other error into a generic message that repeats nothing from it', async () => {
    const outcome = await run(() => Promise.reject(new TypeError('boom with Pa55-word-value inside')));
    expect(outcome).toEqual({ ok: false, message: 'Salesforce verification failed: internal error (TypeError)' });
  });

  it('survives a verifier that throws synchronously', async () => {
    const outcome = await run(() => {
      throw new Error('sync');
    });
    expect(outcome).toEqual({ ok: false, message: 'Salesforce verification failed: internal error (Error)' });
  });
});
