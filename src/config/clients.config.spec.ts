import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfiguration } from './configuration';

const base = () => ({
  DATA_DIR: mkdtempSync(join(tmpdir(), 'clients-config-spec-')),
  JWT_SECRET: 'a-secret-that-is-at-least-32-bytes-long',
  ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
});

describe('clients configuration (issue 13)', () => {
  it('defaults: issuer on localhost at PORT, the external audience, 15 min tokens, 24 h overlap', () => {
    expect(loadConfiguration({ ...base(), PORT: '4000', JWT_AUDIENCE: 'my-api' }).clients).toEqual({
      issuer: 'http://localhost:4000',
      audience: 'my-api',
      tokenTtlSeconds: 900,
      secretOverlapSeconds: 86_400,
      maxFailuresPerClient: 10,
      maxFailuresPerAddress: 50,
      failureWindowMs: 60_000,
      revocationPollMs: 500,
    });
  });

  it('reads durations in seconds or with a unit, and a trailing slash off the issuer', () => {
    const clients = loadConfiguration({ ...base(), TOKEN_TTL: '5m', CLIENT_SECRET_OVERLAP: '3600', TOKEN_ISSUER: 'https://api.example.com/' }).clients;
    expect(clients).toMatchObject({ tokenTtlSeconds: 300, secretOverlapSeconds: 3600, issuer: 'https://api.example.com' });
  });

  it.each([
    [{ TOKEN_TTL: '10s' }, "TOKEN_TTL must be a duration from 60 s to 86400 s, in seconds or like 15m, 24h (got '10s')"],
    [{ TOKEN_TTL: 'soon' }, "TOKEN_TTL must be a duration from 60 s to 86400 s, in seconds or like 15m, 24h (got 'soon')"],
    [{ CLIENT_SECRET_OVERLAP: '31d' }, "CLIENT_SECRET_OVERLAP must be a duration from 0 s to 2592000 s, in seconds or like 15m, 24h (got '31d')"],
    [{ TOKEN_ISSUER: 'not a url' }, "TOKEN_ISSUER must be the service's public URL, like https://integrations.example.com (got 'not a url')"],
    [{ TOKEN_ISSUER: 'https://api.example.com/?x=1' }, 'TOKEN_ISSUER must be an http(s) URL without query, fragment or user name (RFC 8414), like https://integrations.example.com'],
    [{ TOKEN_ISSUER: 'https://idp.example.com', JWT_ISSUER: 'https://idp.example.com' }, "TOKEN_ISSUER must differ from JWT_ISSUER ('https://idp.example.com'): the issuer decides which keys check a token"],
    [{ REVOCATION_POLL_MS: '5' }, "REVOCATION_POLL_MS must be an integer from 50 to 10000 (got '5')"],
  ])('refuses %o with one line naming the variable', (env, message) => {
    expect(() => loadConfiguration({ ...base(), ...env })).toThrow(new ConfigError(message));
  });
});
