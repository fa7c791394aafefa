import { createHmac } from 'node:crypto';
import { adminToken, bearer, startTestApp, TEST_JWT_SECRET, token, type TestApp } from './helpers/test-app';

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('Authentication', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('answers 401 with a JSON error and no token', async () => {
    const response = await t.http().get('/tenants');
    expect(response.status).toBe(401);
    expect(response.body).toEqual({ error: expect.stringMatching(/Missing bearer token/), code: 'UNAUTHENTICATED', requestId: expect.any(String) });
    expect(response.headers['www-authenticate']).toBe('Bearer');
  });

  it('accepts a platform admin token minted by the token command format', async () => {
    const response = await t.http().get('/tenants').set(...bearer(adminToken()));
    expect(response.status).toBe(200);
    expect(Array.isArray(response.body)).toBe(true);
  });

  const now = Math.floor(Date.now() / 1000);
  const unsigned = (payload: object) => `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(payload)}.`;
  const hs256 = (payload: object, secret = TEST_JWT_SECRET) => {
    const head = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url(payload)}`;
    return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
  };
  const valid = { sub: 's', scope: 'platform:admin', iss: 'integrations-api', aud: 'integrations-api', iat: now, exp: now + 600 };

  it.each([
    ['signed with another secret', token({ scope: 'platform:admin' }, {}, 'another-secret-that-is-32-bytes-long!!')],
    ['expired', token({ scope: 'platform:admin' }, { expiresIn: -120 })],
    ['without exp', hs256({ ...valid, exp: undefined })],
    ['with alg none', unsigned(valid)],
    ['with a wrong iss', token({ scope: 'platform:admin' }, { issuer: 'someone-else' })],
    ['with a wrong aud', token({ scope: 'platform:admin' }, { audience: 'another-api' })],
    ['without sub', hs256({ ...valid, sub: undefined })],
    ['not yet valid (nbf)', hs256({ ...valid, nbf: now + 600 })],
    ['tampered', (() => {
      const [head, , signature] = token({ scope: 'integrations:read', tenants: ['a'] }).split('.');
      return `${head}.${base64url(valid)}.${signature}`;
    })()],
    ['malformed', 'not-a-jwt'],
  ])('rejects a token %s with 401', async (_case, jwt) => {
    const response = await t.http().get('/tenants').set(...bearer(jwt));
    expect(response.status).toBe(401);
    expect(typeof response.body.error).toBe('string');
    expect(response.body.code).toBe('UNAUTHENTICATED');
  });

  it('a token with tenants:["a"] gets 403 on /tenants/b and sees only a', async () => {
    const admin = bearer(adminToken());
    const a = t.uniqueId('a');
    const b = t.uniqueId('b');
    await t.http().post('/tenants').set(...admin).send({ id: a, name: 'A' });
    await t.http().post('/tenants').set(...admin).send({ id: b, name: 'B' });
    const onlyA = bearer(token({ scope: 'integrations:read', tenants: [a] }));
    expect((await t.http().get(`/tenants/${b}`).set(...onlyA)).status).toBe(403);
    const list = await t.http().get('/tenants').set(...onlyA);
    expect(list.body.map((x: { id: string }) => x.id)).toEqual([a]);
  });

  it('leaves /health and /docs open', async () => {
    expect((await t.http().get('/health/live')).status).toBe(200);
    expect((await t.http().get('/health/ready')).status).toBe(200);
    expect((await t.http().get('/docs-json')).status).toBe(200);
  });
});
