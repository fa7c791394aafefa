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
    [{ PUSHER_API_URL: 'ftp://api.pusher.com' }, "PUSHER_API_URL must be an http(s) URL like https://api.example.com (got the scheme 'ftp:')"],
    [{ SENDGRID_API_URL: 'https://api.sendgrid.com/?x=1' }, "SENDGRID_API_URL must be an http(s) URL like https://api.example.com, without query or fragment (got 'https://api.sendgrid.com/?x=1')"],
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
    expect((error as Error).message).toBe('DATASIFT_API_URL must be an http(s) URL like https://api.example.com, without user name or password in it');
  });
});
