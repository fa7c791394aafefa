import 'reflect-metadata';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  FAKE_SALESFORCE_INSTANCE_URL,
  type FakeVendorKey,
  type FakeVendors,
  type FakeVendorType,
  startFakeVendors,
} from '../../../test/fakes/fake-vendors';
import { findVendor, type Vendor } from '../vendors/registry';
import { MASK, runVerifier } from './redact';
import { VendorHttpClient } from './vendor-http.client';
import { resolveBaseUrl, type VerifyOutcome } from './verifier';

const TIMEOUT_MS = 500;

/**
 * Per vendor: its fake, the identity field that triggers the fakes' test behaviours, what a wrong
 * secret says, and the fields without which it cannot be verified (the contract's, in DTO order).
 */
const VENDORS: {
  type: FakeVendorType;
  key: FakeVendorKey;
  title: string;
  identity: string;
  secret: string;
  ok: (good: Record<string, string>) => string;
  rejected: string;
  required: string[];
}[] = [
  {
    type: 'salesforce',
    key: 'salesforce',
    title: 'Salesforce',
    identity: 'username',
    secret: 'password',
    ok: (g) => `Logged in to Salesforce as ${g.username}; instance ${FAKE_SALESFORCE_INSTANCE_URL}`,
    rejected: 'Salesforce rejected the login: invalid_grant (authentication failure), HTTP 400',
    required: ['consumer-key', 'consumer-secret', 'username', 'password', 'secret-token'],
  },
  {
    type: 'twilio',
    key: 'twilio',
    title: 'Twilio',
    identity: 'account',
    secret: 'password',
    ok: (g) => `Twilio account "Fake Twilio account" (${g.account}) is active`,
    rejected: 'Twilio rejected the credentials: Authenticate (code 20003), HTTP 401',
    required: ['account', 'password'],
  },
  {
    type: 'sendgrid',
    key: 'sendgrid',
    title: 'SendGrid',
    identity: 'account',
    secret: 'password',
    ok: (g) => `Signed in to SendGrid as ${g.account}`,
    rejected: 'SendGrid rejected the credentials: authorization required, HTTP 401',
    required: ['account', 'password'],
  },
  {
    type: 'datasift',
    key: 'datasift',
    title: 'DataSift',
    identity: 'username',
    secret: 'api-key',
    ok: (g) => `DataSift accepted the API key of ${g.username}`,
    rejected: 'DataSift rejected the credentials: Authentication failed, HTTP 401',
    required: ['username', 'api-key'],
  },
  {
    type: 'pusher',
    key: 'pusher',
    title: 'Pusher',
    identity: 'key',
    secret: 'secret',
    ok: (g) => `Pusher accepted key ${g.key} for app ${g['app-id']}`,
    rejected: 'Pusher rejected the credentials: Invalid signature: you should have sent HmacSHA256Hex(',
    required: ['key', 'secret'],
  },
  {
    type: 'urban-airship',
    key: 'urbanAirship',
    title: 'Urban Airship',
    identity: 'username',
    secret: 'password',
    ok: (g) => `Urban Airship accepted app key ${g.username}`,
    rejected: 'Urban Airship rejected the credentials: Unauthorized (error_code 40101), HTTP 401',
    required: ['username', 'password'],
  },
];

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('vendor verifiers against the fake vendors', () => {
  let fakes: FakeVendors;
  const http = new VendorHttpClient({ timeoutMs: TIMEOUT_MS });

  beforeAll(async () => {
    fakes = await startFakeVendors();
  });
  afterAll(() => fakes.close());

  const vendorOf = (type: string): Vendor => {
    const vendor = findVendor(type);
    if (!vendor) throw new Error(`no vendor ${type}`);
    return vendor;
  };
  /** What the service does: the registry's verifier, through runVerifier, at the URL the env names. */
  const verify = (type: string, credentials: Record<string, string>, client = http): Promise<VerifyOutcome> => {
    const vendor = vendorOf(type);
    const baseUrl = resolveBaseUrl(vendor, fakes.env);
    return runVerifier(vendor, vendor.verify, credentials, vendor.secretFields, { baseUrl, http: client });
  };

  describe.each(VENDORS)('$type', (v) => {
    it('has the real default base URL and its env override', () => {
      const vendor = vendorOf(v.type);
      expect(resolveBaseUrl(vendor, {})).toBe(vendor.defaultBaseUrl);
      expect(resolveBaseUrl(vendor, fakes.env)).toBe(fakes.urls[v.key]);
    });

    it('answers ok for good credentials', async () => {
      const outcome = await verify(v.type, fakes.good[v.type]);
      expect(outcome.message).toBe(v.ok(fakes.good[v.type]));
      expect(outcome.ok).toBe(true);
    });

    it('answers failed with the vendor error for a wrong secret, asking once', async () => {
      const before = fakes.hits[v.key];
      const outcome = await verify(v.type, { ...fakes.good[v.type], [v.secret]: 'wrong-secret-value' });
      expect(outcome.ok).toBe(false);
      expect(outcome.message.startsWith(v.rejected)).toBe(true);
      expect(outcome.message).not.toContain('wrong-secret-value');
      expect(fakes.hits[v.key] - before).toBe(1);
    });

    it('answers failed "timed out" within the timeout when the vendor hangs', async () => {
      const before = fakes.hits[v.key];
      const started = Date.now();
      const outcome = await verify(v.type, { ...fakes.good[v.type], [v.identity]: 'hang' });
      const elapsed = Date.now() - started;
      expect(outcome).toEqual({ ok: false, message: `${v.title} did not answer: timed out after ${TIMEOUT_MS} ms` });
      expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      expect(elapsed).toBeLessThan(TIMEOUT_MS + 1000);
      expect(fakes.hits[v.key] - before).toBe(1); // a timeout is not retried
    });

    it('answers failed on a vendor 500, without retrying', async () => {
      const before = fakes.hits[v.key];
      const outcome = await verify(v.type, { ...fakes.good[v.type], [v.identity]: 'error500' });
      expect(outcome.ok).toBe(false);
      expect(outcome.message).toMatch(new RegExp(`^${v.title} answered HTTP 500: \\S`));
      expect(outcome.message).not.toMatch(/<[a-z]/i); // HTML tags stripped
      expect(fakes.hits[v.key] - before).toBe(1);
    });

    it('keeps the secrets out of the message when the vendor echoes them', async () => {
      const credentials = { ...fakes.good[v.type], [v.identity]: 'echo' };
      const outcome = await verify(v.type, credentials);
      expect(outcome.ok).toBe(false);
      expect(outcome.message).toContain(MASK);
      for (const field of vendorOf(v.type).secretFields) {
        const secret = credentials[field];
        if (secret === undefined) continue;
        expect(outcome.message).not.toContain(secret);
        expect(outcome.message).not.toContain(encodeURIComponent(secret));
      }
      const basic = Buffer.from(`echo:${credentials[v.secret]}`).toString('base64');
      expect(outcome.message).not.toContain(basic.slice(0, 12));
    });

    it('fails without calling the vendor when a field its DTO requires is missing or empty', async () => {
      const before = fakes.hits[v.key];
      for (const field of v.required) {
        const credentials: Record<string, string> = { ...fakes.good[v.type] };
        delete credentials[field];
        expect(await verify(v.type, credentials)).toEqual({ ok: false, message: `cannot verify: missing ${field}` });
        expect(await verify(v.type, { ...fakes.good[v.type], [field]: '' })).toEqual({ ok: false, message: `cannot verify: missing ${field}` });
      }
      expect(await verify(v.type, {})).toEqual({ ok: false, message: `cannot verify: missing ${v.required.join(', ')}` });
      expect(fakes.hits[v.key]).toBe(before);
    });

    it('retries once on a network error, then answers failed "could not reach"', async () => {
      const port = await closedPort();
      const vendor = vendorOf(v.type);
      const fetchSpy = jest.spyOn(globalThis, 'fetch');
      try {
        const outcome = await runVerifier(vendor, vendor.verify, fakes.good[v.type], vendor.secretFields, {
          baseUrl: `http://127.0.0.1:${port}`,
          http,
        });
        expect(outcome).toEqual({
          ok: false,
          message: `could not reach ${v.title}: connection refused by 127.0.0.1:${port} (ECONNREFUSED), 2 attempts`,
        });
        expect(fetchSpy).toHaveBeenCalledTimes(2);
      } finally {
        fetchSpy.mockRestore();
      }
    });
  });

  it('every vendor answers ok after the slow fakes’ delay, given the time', async () => {
    const patient = new VendorHttpClient({ timeoutMs: 6000 });
    const outcomes = await Promise.all(
      VENDORS.map((v) => verify(v.type, { ...fakes.good[v.type], [v.identity]: 'slow' }, patient)),
    );
    expect(outcomes.map((o) => o.ok)).toEqual(VENDORS.map(() => true));
  }, 10_000);

  describe('salesforce specifics', () => {
    it('learns the instance from instance_url', async () => {
      const outcome = await verify('salesforce', fakes.good.salesforce);
      expect(outcome.updates).toEqual({ instance: FAKE_SALESFORCE_INSTANCE_URL });
    });

    it.each([
      ['consumer-key', 'invalid_client_id (client identifier invalid)'],
      ['consumer-secret', 'invalid_client (invalid client credentials)'],
      ['secret-token', 'invalid_grant (authentication failure)'],
      ['username', 'invalid_grant (authentication failure)'],
    ])('names the OAuth error for a wrong %s', async (field, error) => {
      const outcome = await verify('salesforce', { ...fakes.good.salesforce, [field]: 'wrong-value' });
      expect(outcome).toEqual({ ok: false, message: `Salesforce rejected the login: ${error}, HTTP 400` });
    });

    it('fails without calling Salesforce when a field is missing', async () => {
      const before = fakes.hits.salesforce;
      const credentials: Record<string, string> = { ...fakes.good.salesforce };
      delete credentials['secret-token'];
      const outcome = await verify('salesforce', credentials);
      expect(outcome).toEqual({ ok: false, message: 'cannot verify: missing secret-token' });
      expect(fakes.hits.salesforce).toBe(before);
    });
  });

  describe('twilio specifics', () => {
    it('rejects an unknown account', async () => {
      const outcome = await verify('twilio', { ...fakes.good.twilio, account: 'AC00000000000000000000000000000000' });
      expect(outcome).toEqual({
        ok: false,
        message: 'Twilio rejected the credentials: Authenticate (code 20003), HTTP 401',
      });
    });
  });

  describe('pusher specifics', () => {
    it('asks for app-id when it is missing', async () => {
      const credentials: Record<string, string> = { ...fakes.good.pusher };
      delete credentials['app-id'];
      const outcome = await verify('pusher', credentials);
      expect(outcome.ok).toBe(false);
      expect(outcome.message.startsWith('pusher: set app-id to verify')).toBe(true);
    });

    it('says so for an unknown key', async () => {
      const outcome = await verify('pusher', { ...fakes.good.pusher, key: 'ffff0000000000000000' });
      expect(outcome).toEqual({ ok: false, message: 'Pusher rejected the credentials: Unknown auth_key, HTTP 401' });
    });

    it('says so for an unknown app', async () => {
      const outcome = await verify('pusher', { ...fakes.good.pusher, 'app-id': '7654321' });
      expect(outcome).toEqual({
        ok: false,
        message: 'Pusher does not know app 7654321 (HTTP 404): check app-id, and the cluster in PUSHER_API_URL',
      });
    });
  });
});
