import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sign } from 'jsonwebtoken';
import { startTestApp, TEST_JWT_SECRET, token, type TestApp } from '../helpers/test-app';

/**
 * Issue #5, tokens: every malformed, forged, stale or misaddressed token gets a
 * 401 in the error format. Each bad token carries the platform:admin scope, so
 * an accepted one would answer 200; each configuration first shows that a good
 * token does get 200.
 */
const ISSUER = 'integrations-api';
const AUDIENCE = 'integrations-api';
const TOLERANCE_SEC = 30;
const BAD_TOKEN_CASES = 11;

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = (): number => Math.floor(Date.now() / 1000);

/** A JWT assembled by hand, for what jsonwebtoken refuses to sign. */
function handmade(header: Record<string, unknown>, payload: Record<string, unknown>, signature: (input: string) => string): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${signature(input)}`;
}

function adminClaims(overrides: Record<string, unknown> = {}, without: string[] = []): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    sub: 'attacker',
    scope: 'platform:admin',
    iss: ISSUER,
    aud: AUDIENCE,
    iat: now(),
    exp: now() + 600,
    ...overrides,
  };
  for (const claim of without) delete claims[claim];
  return claims;
}

const hsSign = (claims: Record<string, unknown>, secret = TEST_JWT_SECRET): string => sign(claims, secret, { algorithm: 'HS256' });
const rsaKeys = (): { privateKey: KeyObject; publicKey: KeyObject } => generateKeyPairSync('rsa', { modulusLength: 2048 });

interface Outcome {
  name: string;
  status: number;
  error: unknown;
  wwwAuthenticate: unknown;
  cacheControl: unknown;
}

async function attempt(t: TestApp, name: string, jwt: string): Promise<Outcome> {
  const response = await t.app.inject({ method: 'GET', url: '/tenants', headers: { authorization: `Bearer ${jwt}` } });
  return {
    name,
    status: response.statusCode,
    error: response.json<{ error?: unknown }>().error,
    wwwAuthenticate: response.headers['www-authenticate'],
    cacheControl: response.headers['cache-control'],
  };
}

/** A JWKS endpoint on loopback whose key set the test changes at will. */
interface JwksServer {
  url: string;
  keys: Map<string, KeyObject>;
  close: () => Promise<void>;
}

async function startJwksServer(): Promise<JwksServer> {
  const keys = new Map<string, KeyObject>();
  const server: Server = createServer((_request, response) => {
    const set = [...keys].map(([kid, key]) => ({ ...key.export({ format: 'jwk' }), kid, use: 'sig' }));
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: set }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    keys,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const JWKS_TTL_MS = 200;
const waitForJwksCache = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, JWKS_TTL_MS + 100));

describe('Security: bearer tokens', () => {
  /** The bad-token cases of the issue, from all three configurations. */
  const outcomes: Outcome[] = [];

  describe('HS256 with a shared secret', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ JWT_CLOCK_TOLERANCE_SEC: String(TOLERANCE_SEC) });
    });
    afterAll(() => t.close());

    it('accepts a good token, and expired / not-yet-valid ones only within the clock tolerance', async () => {
      expect((await attempt(t, 'good', token({ scope: 'platform:admin' }))).status).toBe(200);
      expect((await attempt(t, 'expired 10 s ago', hsSign(adminClaims({ exp: now() - 10 })))).status).toBe(200);
      expect((await attempt(t, 'nbf in 10 s', hsSign(adminClaims({ nbf: now() + 10 })))).status).toBe(200);
    });

    it('rejects forged, stale and misaddressed tokens', async () => {
      const [header, payload, signature] = token({ scope: 'integrations:read', tenants: ['mine'] }).split('.');
      const tampered = b64url({ ...(JSON.parse(Buffer.from(payload, 'base64url').toString()) as object), scope: 'platform:admin' });
      outcomes.push(
        await attempt(
          t,
          'alg none',
          handmade({ alg: 'none', typ: 'JWT' }, adminClaims(), () => ''),
        ),
        await attempt(t, 'wrong secret', hsSign(adminClaims(), 'another-secret-that-is-at-least-32-bytes!!')),
        await attempt(t, `expired beyond the ${TOLERANCE_SEC} s tolerance`, hsSign(adminClaims({ exp: now() - TOLERANCE_SEC - 30 }))),
        await attempt(t, 'no exp', hsSign(adminClaims({}, ['exp']))),
        await attempt(t, 'nbf in the future', hsSign(adminClaims({ nbf: now() + TOLERANCE_SEC + 120 }))),
        await attempt(t, 'wrong iss', hsSign(adminClaims({ iss: 'https://evil.example.com' }))),
        await attempt(t, 'wrong aud', hsSign(adminClaims({ aud: 'another-service' }))),
        await attempt(t, 'tampered payload', `${header}.${tampered}.${signature}`),
        await attempt(t, 'no sub', hsSign(adminClaims({}, ['sub']))),
      );
      // Not in the count, but just as bad: an empty sub, a scope of the wrong type, garbage.
      for (const [name, jwt] of [
        ['empty sub', hsSign(adminClaims({ sub: '' }))],
        ['scope not a string', hsSign(adminClaims({ scope: ['platform:admin'] }))],
        ['tenants not an array', hsSign(adminClaims({ tenants: 'a' }))],
        ['not a JWT', 'not.a.jwt'],
        ['HS512', sign(adminClaims(), TEST_JWT_SECRET, { algorithm: 'HS512' })],
      ]) {
        expect((await attempt(t, name, jwt)).status).toBe(401);
      }
      const missing = await t.app.inject({ method: 'GET', url: '/tenants' });
      expect(missing.statusCode).toBe(401);
    });
  });

  describe('RS256 with a configured public key', () => {
    let t: TestApp;
    const rsa = rsaKeys();
    const pem = rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    beforeAll(async () => {
      t = await startTestApp({ JWT_SECRET: '', JWT_PUBLIC_KEY: pem });
    });
    afterAll(() => t.close());

    it('accepts a token signed with the private key', async () => {
      expect((await attempt(t, 'good', sign(adminClaims(), rsa.privateKey, { algorithm: 'RS256' }))).status).toBe(200);
    });

    it('rejects HS256 signed with the public key as the HMAC secret (key confusion)', async () => {
      outcomes.push(
        await attempt(
          t,
          'HS256 signed with the RSA public key PEM',
          handmade({ alg: 'HS256', typ: 'JWT' }, adminClaims(), (input) => createHmac('sha256', pem).update(input).digest('base64url')),
        ),
      );
      expect((await attempt(t, 'HS256 with the test secret', token({ scope: 'platform:admin' }))).status).toBe(401);
      expect(
        (
          await attempt(
            t,
            'alg none',
            handmade({ alg: 'none' }, adminClaims(), () => ''),
          )
        ).status,
      ).toBe(401);
    });
  });

  describe('RS256/ES256 from a JWKS URL', () => {
    let t: TestApp;
    let jwks: JwksServer;
    const key1 = rsaKeys();
    beforeAll(async () => {
      jwks = await startJwksServer();
      jwks.keys.set('key-1', key1.publicKey);
      t = await startTestApp({ JWT_SECRET: '', JWT_JWKS_URL: jwks.url, JWT_JWKS_CACHE_TTL_MS: String(JWKS_TTL_MS) });
    });
    afterAll(async () => {
      await t.close();
      await jwks.close();
    });

    it('rejects a token whose kid the JWKS does not hold, and tokens that pick their own algorithm', async () => {
      expect((await attempt(t, 'good', sign(adminClaims(), key1.privateKey, { algorithm: 'RS256', keyid: 'key-1' }))).status).toBe(200);
      outcomes.push(
        await attempt(t, 'unknown kid (JWKS)', sign(adminClaims(), rsaKeys().privateKey, { algorithm: 'RS256', keyid: 'not-in-the-set' })),
      );

      const pem = key1.publicKey.export({ format: 'pem', type: 'spki' }).toString();
      const confused = handmade({ alg: 'HS256', kid: 'key-1' }, adminClaims(), (input) =>
        createHmac('sha256', pem).update(input).digest('base64url'),
      );
      expect((await attempt(t, 'HS256 with the JWK as secret', confused)).status).toBe(401);
      expect(
        (
          await attempt(
            t,
            'alg none with a known kid',
            handmade({ alg: 'none', kid: 'key-1' }, adminClaims(), () => ''),
          )
        ).status,
      ).toBe(401);
      expect((await attempt(t, 'no kid', sign(adminClaims(), key1.privateKey, { algorithm: 'RS256' }))).status).toBe(401);
    });

    it('follows the JWKS: a key added upstream is picked up, a key removed upstream stops working', async () => {
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const withKey1 = sign(adminClaims(), key1.privateKey, { algorithm: 'RS256', keyid: 'key-1' });
      const withKey2 = sign(adminClaims(), ec.privateKey, { algorithm: 'ES256', keyid: 'key-2' });

      expect((await attempt(t, 'key-1 before rotation', withKey1)).status).toBe(200);
      expect((await attempt(t, 'key-2 before it is published', withKey2)).status).toBe(401);

      jwks.keys.set('key-2', ec.publicKey);
      await waitForJwksCache();
      expect((await attempt(t, 'key-2 once published', withKey2)).status).toBe(200);

      jwks.keys.delete('key-1');
      await waitForJwksCache();
      const removed = await attempt(t, 'key-1 after removal', withKey1);
      expect(removed.status).toBe(401);
      expect(removed.error).toMatch(/unknown key/);
      expect((await attempt(t, 'key-2 still published', withKey2)).status).toBe(200);
    });
  });

  describe('tally', () => {
    it(`rejects ${BAD_TOKEN_CASES}/${BAD_TOKEN_CASES} bad tokens with 401, the error body and WWW-Authenticate`, () => {
      const rejected = outcomes.filter(
        (o) => o.status === 401 && typeof o.error === 'string' && o.wwwAuthenticate === 'Bearer' && o.cacheControl === 'no-store',
      );
      console.log(
        `${rejected.length}/${outcomes.length} bad tokens rejected\n${outcomes.map((o) => `  ${o.status} ${o.name}: ${String(o.error)}`).join('\n')}`,
      );
      expect(outcomes.map((o) => [o.name, o.status])).toEqual(outcomes.map((o) => [o.name, 401]));
      expect(`${rejected.length}/${outcomes.length} rejected`).toBe(`${BAD_TOKEN_CASES}/${BAD_TOKEN_CASES} rejected`);
    });
  });
});
