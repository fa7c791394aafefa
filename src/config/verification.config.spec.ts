import { ConfigError } from './config-error';
import { loadVerificationConfig } from './verification.config';

describe('loadVerificationConfig', () => {
  it('defaults to a 10 s timeout, no verify on save, and the real vendors', () => {
    expect(loadVerificationConfig({})).toEqual({
      timeoutMs: 10_000,
      onSave: false,
      baseUrls: {
        salesforce: 'https://login.salesforce.com',
        twilio: 'https://api.twilio.com',
        sendgrid: 'https://api.sendgrid.com',
        datasift: 'https://api.datasift.com',
        pusher: 'https://api-mt1.pusher.com',
        'urban-airship': 'https://go.urbanairship.com',
      },
      schedule: { intervalSeconds: 0, concurrency: 4, hostConcurrency: 2, maxRate: 5, tickMs: 1000, leaseMs: 60_000, jitter: 0.1 },
    });
  });

  describe('scheduled re-verification', () => {
    it('is off in development and daily in production by default', () => {
      expect(loadVerificationConfig({}).schedule.intervalSeconds).toBe(0);
      expect(loadVerificationConfig({ NODE_ENV: 'production' }).schedule.intervalSeconds).toBe(86_400);
      expect(loadVerificationConfig({ NODE_ENV: 'production', VERIFY_INTERVAL: '0' }).schedule.intervalSeconds).toBe(0);
    });

    it('reads durations with units', () => {
      const schedule = loadVerificationConfig({
        VERIFY_INTERVAL: '6h',
        VERIFY_CONCURRENCY: '8',
        VERIFY_HOST_CONCURRENCY: '3',
        VERIFY_MAX_RATE: '100',
        VERIFY_TICK_MS: '250',
        VERIFY_LEASE: '2m',
        VERIFY_JITTER: '0.25',
      }).schedule;
      expect(schedule).toEqual({
        intervalSeconds: 21_600,
        concurrency: 8,
        hostConcurrency: 3,
        maxRate: 100,
        tickMs: 250,
        leaseMs: 120_000,
        jitter: 0.25,
      });
      expect(loadVerificationConfig({ VERIFY_INTERVAL: '30s' }).schedule.intervalSeconds).toBe(30);
      expect(loadVerificationConfig({ VERIFY_INTERVAL: '1d' }).schedule.intervalSeconds).toBe(86_400);
    });

    it.each([
      [
        'VERIFY_INTERVAL',
        'daily',
        "VERIFY_INTERVAL must be a duration like 30s, 15m, 6h or 1d (0 turns it off), at most 366d (got 'daily')",
      ],
      ['VERIFY_INTERVAL', '-1h', "VERIFY_INTERVAL must be a duration like 30s, 15m, 6h or 1d (0 turns it off), at most 366d (got '-1h')"],
      ['VERIFY_INTERVAL', '400d', "VERIFY_INTERVAL must be a duration like 30s, 15m, 6h or 1d (0 turns it off), at most 366d (got '400d')"],
      ['VERIFY_JITTER', '1', "VERIFY_JITTER must be a fraction from 0 up to (not including) 1, like 0.1 (got '1')"],
      ['VERIFY_JITTER', '10%', "VERIFY_JITTER must be a fraction from 0 up to (not including) 1, like 0.1 (got '10%')"],
      ['VERIFY_CONCURRENCY', '0', "VERIFY_CONCURRENCY must be an integer from 1 to 256 (got '0')"],
    ])('refuses %s=%s with a message that says what to write', (name, value, message) => {
      expect(() => loadVerificationConfig({ [name]: value })).toThrow(new ConfigError(message));
    });

    it('refuses a lease that a vendor call could outlast', () => {
      expect(() => loadVerificationConfig({ VERIFY_TIMEOUT_MS: '10000', VERIFY_LEASE: '15s' })).toThrow(
        new ConfigError(
          "VERIFY_LEASE must be at least 21s, twice VERIFY_TIMEOUT_MS and a second (got '15s'); raise it or lower VERIFY_TIMEOUT_MS",
        ),
      );
      expect(loadVerificationConfig({ VERIFY_TIMEOUT_MS: '1000', VERIFY_LEASE: '3s' }).schedule.leaseMs).toBe(3000);
    });
  });

  it('reads the overrides, trailing slashes dropped', () => {
    const config = loadVerificationConfig({
      VERIFY_TIMEOUT_MS: '1500',
      VERIFY_ON_SAVE: 'true',
      SALESFORCE_LOGIN_URL: 'https://test.salesforce.com/',
      URBAN_AIRSHIP_API_URL: 'http://127.0.0.1:4100',
    });
    expect(config.timeoutMs).toBe(1500);
    expect(config.onSave).toBe(true);
    expect(config.baseUrls.salesforce).toBe('https://test.salesforce.com');
    expect(config.baseUrls['urban-airship']).toBe('http://127.0.0.1:4100');
  });

  it.each([
    [{ VERIFY_TIMEOUT_MS: 'soon' }, "VERIFY_TIMEOUT_MS must be an integer from 100 to 120000 (got 'soon')"],
    [{ VERIFY_TIMEOUT_MS: '0' }, "VERIFY_TIMEOUT_MS must be an integer from 100 to 120000 (got '0')"],
    [{ VERIFY_ON_SAVE: 'maybe' }, "VERIFY_ON_SAVE must be true or false (got 'maybe')"],
    [{ TWILIO_API_URL: 'api.twilio.com' }, "TWILIO_API_URL must be an http(s) URL like https://api.example.com (got 'api.twilio.com')"],
    [
      { PUSHER_API_URL: 'ftp://api.pusher.com' },
      "PUSHER_API_URL must be an http(s) URL like https://api.example.com (got the scheme 'ftp:')",
    ],
    [
      { SENDGRID_API_URL: 'https://api.sendgrid.com/?x=1' },
      "SENDGRID_API_URL must be an http(s) URL like https://api.example.com, without query or fragment (got 'https://api.sendgrid.com/?x=1')",
    ],
  ])('refuses %j with a one-line ConfigError', (env, message) => {
    expect(() => loadVerificationConfig(env)).toThrow(new ConfigError(message));
  });

  it('does not repeat a password put in a base URL', () => {
    let error: unknown;
    try {
      loadVerificationConfig({ DATASIFT_API_URL: 'https://user:hunter2@api.datasift.com' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(
      'DATASIFT_API_URL must be an http(s) URL like https://api.example.com, without user name or password in it',
    );
  });
});
