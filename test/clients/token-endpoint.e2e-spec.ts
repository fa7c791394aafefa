import { createPublicKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { sign, verify } from 'jsonwebtoken';
import { basicAuth, claimsOf, clientToken, createClient, headerOf, postToken, type CreatedClient } from '../helpers/clients';
import { adminToken, bearer, createTenant, startTestApp, token, type TestApp } from '../helpers/test-app';

const CLIENT_CREDENTIALS = { grant_type: 'client_credentials' };
const ISSUER = 'http://localhost:3000';

/** An RFC 6749 §5.2 answer: status, the error code, a description, never cached. */
function expectOAuthError(response: LightMyRequestResponse, status: number, error: string, description?: string | RegExp): void {
  expect({ status: response.statusCode, error: response.json<{ error: string }>().error }).toEqual({ status, error });
  expect(response.json<{ error_description: unknown }>().error_description).toEqual(
    description === undefined ? expect.any(String) : typeof description === 'string' ? description : expect.stringMatching(description),
  );
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  expect(response.headers['cache-control']).toBe('no-store');
  if (status === 401) expect(response.headers['www-authenticate']).toBe('Basic');
  else expect(response.headers['www-authenticate']).toBeUndefined();
}

/**
 * Issue 13, the token endpoint: OAuth 2.0 client credentials (RFC 6749 §4.4)
 * with both client authentication forms, every §5.2 error, the limit on
 * failed attempts, the tokens' format, and the JWKS and RFC 8414 metadata.
 */
describe('POST /token (client credentials)', () => {
  let t: TestApp;
  let tenant: string;
  let client: CreatedClient;
  beforeAll(async () => {
    t = await startTestApp();
    tenant = await createTenant(t, 'token');
    client = await createClient(t, tenant, 'integrations:read integrations:secrets');
    await t.http().post(`/tenants/${tenant}/integrations/twilio`).set(...bearer(adminToken())).send({ account: 'AC1', password: 'tw-secret' });
  });
  afterAll(() => t.close());

  it('issues a token to a client authenticated by HTTP Basic, never cached', async () => {
    const response = await postToken(t, CLIENT_CREDENTIALS, { authorization: basicAuth(client.id, client.secret) });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers.pragma).toBe('no-cache');
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    const body = response.json<Record<string, unknown>>();
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type']);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'integrations:read integrations:secrets' });
    const jwt = body.access_token as string;
    const read = await t.http().get(`/tenants/${tenant}/integrations/twilio`).set(...bearer(jwt));
    expect(read.status).toBe(200);
    expect(read.body.password).toBe('tw-secret');
  });

  it('answers many token requests at once, more than the database pool has connections, every one 200', async () => {
    // Each request reads its client while others wait on the slow hash: nothing may hold a pooled connection meanwhile.
    const answers = await Promise.all(
      Array.from({ length: 60 }, () => postToken(t, CLIENT_CREDENTIALS, { authorization: basicAuth(client.id, client.secret) })),
    );
    expect(answers.map((a) => a.statusCode)).toEqual(Array<number>(60).fill(200));
  });

  it('issues a token to a client authenticated by client_id and client_secret form fields, at /token, /oauth/token and under /1.0', async () => {
    for (const url of ['/token', '/oauth/token', '/1.0/token', '/1.0/oauth/token']) {
      const response = await postToken(t, { ...CLIENT_CREDENTIALS, client_id: client.id, client_secret: client.secret }, {}, url);
      expect({ url, status: response.statusCode }).toEqual({ url, status: 200 });
      expect((await t.http().get(`/tenants/${tenant}/integrations`).set(...bearer(response.json<{ access_token: string }>().access_token))).status).toBe(200);
    }
    // A charset parameter on the media type, and client_id beside Basic when it names the same client, are fine.
    const withCharset = await postToken(t, { ...CLIENT_CREDENTIALS, client_id: client.id }, {
      authorization: basicAuth(client.id, client.secret),
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
    });
    expect(withCharset.statusCode).toBe(200);
  });

  it('signs an ES256 JWT with kid, iss, aud, sub, tenants, scope, exp and jti, checkable with the published JWKS', async () => {
    const before = Math.floor(Date.now() / 1000);
    const jwt = await clientToken(t, client, 'integrations:read');
    const header = headerOf(jwt);
    const claims = claimsOf(jwt);
    expect(header).toEqual({ alg: 'ES256', kid: expect.any(String), typ: 'at+jwt' });
    expect(claims).toEqual({
      iss: ISSUER,
      aud: 'integrations-api',
      sub: client.id,
      client_id: client.id,
      tenants: [tenant],
      scope: 'integrations:read',
      iat: expect.any(Number),
      exp: expect.any(Number),
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect((claims.exp as number) - (claims.iat as number)).toBe(900);
    expect(claims.iat as number).toBeGreaterThanOrEqual(before - 1);

    const jwks = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(jwks.statusCode).toBe(200);
    const keys = jwks.json<{ keys: (JsonWebKey & { kid: string })[] }>().keys;
    const published = keys.find((key) => key.kid === header.kid);
    expect(published).toMatchObject({ kty: 'EC', crv: 'P-256', use: 'sig', alg: 'ES256', x: expect.any(String), y: expect.any(String) });
    expect(Object.keys(published!).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    const checked = verify(jwt, createPublicKey({ key: published!, format: 'jwk' }), { algorithms: ['ES256'], issuer: ISSUER, audience: 'integrations-api' });
    expect(checked).toMatchObject({ sub: client.id });
    // Two tokens never share a jti.
    expect(claimsOf(await clientToken(t, client)).jti).not.toBe(claims.jti);
  });

  it('describes itself at /.well-known/oauth-authorization-server (RFC 8414), without a token', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      issuer: ISSUER,
      token_endpoint: `${ISSUER}/token`,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      response_types_supported: [],
      scopes_supported: ['integrations:read', 'integrations:write', 'integrations:secrets', 'clients:write', 'audit:read', 'webhooks:read', 'webhooks:write'],
      service_documentation: `${ISSUER}/docs`,
    });
    expect((await t.app.inject({ method: 'GET', url: '/1.0/.well-known/jwks.json' })).statusCode).toBe(200);
  });

  it('grants a subset of the client scope when asked, and answers invalid_scope beyond it', async () => {
    const narrow = await postToken(t, { ...CLIENT_CREDENTIALS, scope: 'integrations:read' }, { authorization: basicAuth(client.id, client.secret) });
    expect(narrow.json()).toMatchObject({ scope: 'integrations:read' });
    const jwt = narrow.json<{ access_token: string }>().access_token;
    expect((await t.http().get(`/tenants/${tenant}/integrations/twilio`).set(...bearer(jwt))).body.password).toBe('********');

    const auth = { authorization: basicAuth(client.id, client.secret) };
    expectOAuthError(await postToken(t, { ...CLIENT_CREDENTIALS, scope: 'integrations:read integrations:write' }, auth), 400, 'invalid_scope', "The client may not request the scope 'integrations:write'");
    expectOAuthError(await postToken(t, { ...CLIENT_CREDENTIALS, scope: 'platform:admin' }, auth), 400, 'invalid_scope', "The client may not request the scope 'platform:admin'");
    expectOAuthError(await postToken(t, { ...CLIENT_CREDENTIALS, scope: '   ' }, auth), 400, 'invalid_scope');
  });

  it('answers invalid_request (400) to what is not a well-formed client-credentials request', async () => {
    const auth = { authorization: basicAuth(client.id, client.secret) };
    const json = await t.app.inject({
      method: 'POST',
      url: '/token',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: JSON.stringify(CLIENT_CREDENTIALS),
    });
    expectOAuthError(json, 400, 'invalid_request', 'The token endpoint takes its parameters as application/x-www-form-urlencoded (RFC 6749 §4.4.2)');
    // A JSON body that does not parse, or is empty, is refused before the endpoint runs: still an RFC 6749 §5.2 answer.
    for (const [payload, description] of [
      ['{"grant_type":', "Body is not valid JSON but content-type is set to 'application/json'"],
      ['', "Body cannot be empty when content-type is set to 'application/json'"],
    ]) {
      const response = await t.app.inject({ method: 'POST', url: '/token', headers: { ...auth, 'content-type': 'application/json' }, payload });
      expectOAuthError(response, 400, 'invalid_request', description);
    }
    expectOAuthError(await t.app.inject({ method: 'POST', url: '/token', headers: auth }), 400, 'invalid_request');
    expectOAuthError(await postToken(t, {}, auth), 400, 'invalid_request', 'grant_type is missing; send grant_type=client_credentials');
    const repeated = await t.app.inject({
      method: 'POST',
      url: '/token',
      headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'grant_type=client_credentials&scope=integrations:read&scope=integrations:secrets',
    });
    expectOAuthError(repeated, 400, 'invalid_request', "Parameter 'scope' is sent more than once");
    expectOAuthError(
      await postToken(t, { ...CLIENT_CREDENTIALS, client_secret: client.secret }, auth),
      400,
      'invalid_request',
      'Use one client authentication method: HTTP Basic or client_secret, not both',
    );
    expectOAuthError(await postToken(t, { ...CLIENT_CREDENTIALS, client_id: 'ic-other' }, auth), 400, 'invalid_request', 'client_id differs from the client of the Basic credentials');
  });

  it('answers unsupported_grant_type (400) to any other grant', async () => {
    for (const grant of ['password', 'authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:jwt-bearer']) {
      expectOAuthError(
        await postToken(t, { grant_type: grant }, { authorization: basicAuth(client.id, client.secret) }),
        400,
        'unsupported_grant_type',
        `Only grant_type=client_credentials is supported (got '${grant}')`,
      );
    }
  });

  it('answers invalid_client (401, WWW-Authenticate: Basic) to failed client authentication, alike for unknown ids', async () => {
    const wrong = await postToken(t, CLIENT_CREDENTIALS, { authorization: basicAuth(client.id, `${client.secret}x`) });
    const unknown = await postToken(t, CLIENT_CREDENTIALS, { authorization: basicAuth('ic-000000000000000000000000', client.secret) });
    expectOAuthError(wrong, 401, 'invalid_client', 'Client authentication failed');
    expectOAuthError(unknown, 401, 'invalid_client', 'Client authentication failed');
    expect({ ...wrong.json(), requestId: 'x' }).toEqual({ ...unknown.json(), requestId: 'x' });
    expectOAuthError(await postToken(t, { ...CLIENT_CREDENTIALS, client_id: client.id, client_secret: 'nope' }), 401, 'invalid_client', 'Client authentication failed');
    for (const [label, params, headers] of [
      ['no credentials', CLIENT_CREDENTIALS, {}],
      ['an id without a secret', { ...CLIENT_CREDENTIALS, client_id: client.id }, {}],
      ['a bearer token instead', CLIENT_CREDENTIALS, { authorization: `Bearer ${adminToken()}` }],
      ['Basic without a colon', CLIENT_CREDENTIALS, { authorization: `Basic ${Buffer.from(client.id).toString('base64')}` }],
      ['Basic that is not base64', CLIENT_CREDENTIALS, { authorization: 'Basic !!!' }],
    ] as [string, Record<string, string>, Record<string, string>][]) {
      const response = await postToken(t, params, headers);
      expect({ label, status: response.statusCode }).toEqual({ label, status: 401 });
      expectOAuthError(response, 401, 'invalid_client');
    }
  });

  it('keeps other content types to the API error format, and form bodies away from every other route', async () => {
    const text = await t.app.inject({ method: 'POST', url: '/token', headers: { 'content-type': 'text/plain' }, payload: 'grant_type=client_credentials' });
    expect(text.statusCode).toBe(415);
    expect(text.json()).toMatchObject({ error: 'Unsupported Media Type', code: 'UNSUPPORTED_MEDIA_TYPE' });
    for (const url of ['/tenants', '/1.0/tenants', `/tenants/${tenant}/api-clients`]) {
      const response = await t.app.inject({
        method: 'POST',
        url,
        headers: { authorization: `Bearer ${adminToken()}`, 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'id=x&name=y',
      });
      expect({ url, status: response.statusCode, body: response.json() }).toEqual({
        url,
        status: 415,
        body: expect.objectContaining({ error: 'Unsupported Media Type', code: 'UNSUPPORTED_MEDIA_TYPE' }),
      });
    }
  });

  it("refuses tokens that name the service's issuer but were not signed by it", async () => {
    const jwt = await clientToken(t, client);
    const kid = headerOf(jwt).kid as string;
    const claims = { ...claimsOf(jwt) };
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const attempts: [string, string, string][] = [
      ['another key under our kid', sign(claims, stranger, { algorithm: 'ES256', keyid: kid }), 'Invalid token: invalid signature'],
      ['an unknown kid', sign(claims, stranger, { algorithm: 'ES256', keyid: 'not-ours' }), 'Token key could not be found: token signed with an unknown key (kid)'],
      ['no kid', sign(claims, stranger, { algorithm: 'ES256' }), 'Token key could not be found: token has no kid header'],
      ['HS256 with the external secret', token({ sub: claims.sub as string, scope: 'platform:admin', tenants: [tenant] }, { issuer: ISSUER, keyid: kid }), 'Invalid token: invalid algorithm'],
    ];
    for (const [label, forged, error] of attempts) {
      const response = await t.http().get(`/tenants/${tenant}/integrations`).set(...bearer(forged));
      expect({ label, status: response.status, error: response.body.error }).toEqual({ label, status: 401, error });
    }
    // And the service's own token is for this API only: another audience is refused.
    const [h, , s] = jwt.split('.');
    const retargeted = `${h}.${Buffer.from(JSON.stringify({ ...claims, aud: 'another-api' })).toString('base64url')}.${s}`;
    expect((await t.http().get(`/tenants/${tenant}/integrations`).set(...bearer(retargeted))).status).toBe(401);
  });
});

describe('POST /token: failed attempts are limited per client id and per address', () => {
  let t: TestApp;
  let tenant: string;
  beforeAll(async () => {
    t = await startTestApp({ TOKEN_MAX_FAILURES_PER_CLIENT: '3', TOKEN_MAX_FAILURES_PER_ADDRESS: '6', TOKEN_FAILURE_WINDOW_MS: '60000' });
    tenant = await createTenant(t, 'token-limits');
  });
  afterAll(() => t.close());

  it('answers 429 with Retry-After past the failures allowed for a client id, even to its right secret, while others go on', async () => {
    const victim = await createClient(t, tenant, 'integrations:read');
    const bystander = await createClient(t, tenant, 'integrations:read');
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await postToken(t, CLIENT_CREDENTIALS, { authorization: basicAuth(victim.id, `wrong-${i}`) }, '/token', `10.0.0.${i + 1}`)).statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    const limited = await postToken(t, CLIENT_CREDENTIALS, { authorization: basicAuth(victim.id, victim.secret) }, '/token', '10.0.0.9');
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ error: expect.stringMatching(/^Rate limit reached; retry after \d+ s$/), code: 'RATE_LIMITED' });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter >= 1 && retryAfter <= 60).toBe(true);
    expect(limited.headers['cache-control']).toBe('no-store');
    expect((await postToken(t, CLIENT_CREDENTIALS, { authorization: basicAuth(bystander.id, bystander.secret) }, '/token', '10.0.0.9')).statusCode).toBe(200);
  });

  it('answers 429 past the failures allowed from one address, whatever client ids it tries', async () => {
    const client = await createClient(t, tenant, 'integrations:read');
    const statuses = [];
    for (let i = 0; i < 7; i++) {
      statuses.push((await postToken(t, CLIENT_CREDENTIALS, { authorization: basicAuth(`ic-guess-${i}`, 'secret') }, '/token', '192.0.2.50')).statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 429]);
    expect((await postToken(t, CLIENT_CREDENTIALS, { authorization: basicAuth(client.id, client.secret) }, '/token', '192.0.2.50')).statusCode).toBe(429);
    expect((await postToken(t, CLIENT_CREDENTIALS, { authorization: basicAuth(client.id, client.secret) }, '/token', '192.0.2.51')).statusCode).toBe(200);
  });
});
