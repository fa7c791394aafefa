import { withoutVersionPrefix } from '../src/app.setup';
import { basicAuth, createClient, form } from './helpers/clients';
import { SEED_EXAMPLES } from './helpers/seed-examples';
import { adminToken, bearer, createTenant, startTestApp, type TestApp } from './helpers/test-app';

/** The original page's request bodies (seed/integration-resources.md), as its Postman collection sends them. */
const ORIGINAL_REQUESTS: { id: string; body: Record<string, string> }[] = Object.values(SEED_EXAMPLES).map((body) => ({
  id: body.id,
  body,
}));

/**
 * Issue 13: every route also answers under the original's /1.0 prefix, with
 * the same handlers; the original's requests (its Postman collection: the
 * "Retrieve Token" form post, then the integration calls), with only the host
 * changed, work under both; the OpenAPI document shows the prefix once, as a
 * second server.
 */
describe('The original /1.0 paths', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('strips exactly the /1.0 prefix', () => {
    expect(withoutVersionPrefix('/1.0/tenants/a')).toBe('/tenants/a');
    expect(withoutVersionPrefix('/1.0/tenants?limit=1')).toBe('/tenants?limit=1');
    expect(withoutVersionPrefix('/1.0')).toBe('/');
    expect(withoutVersionPrefix('/1.0?x=1')).toBe('/?x=1');
    expect(withoutVersionPrefix('/1.0x/tenants')).toBe('/1.0x/tenants');
    expect(withoutVersionPrefix('/tenants/1.0/x')).toBe('/tenants/1.0/x');
  });

  for (const prefix of ['', '/1.0']) {
    it(`runs the original collection at ${prefix || '/'}: Retrieve Token, then each integration request`, async () => {
      const tenant = await createTenant(t, 'original');
      const client = await createClient(t, tenant, 'integrations:read integrations:write integrations:secrets');
      // "Retrieve Token": POST {{auth}}/token, form body grant_type=client_credentials.
      const issued = await t.app.inject({
        method: 'POST',
        url: `${prefix}/token`,
        headers: { authorization: basicAuth(client.id, client.secret), 'content-type': 'application/x-www-form-urlencoded' },
        payload: form({ grant_type: 'client_credentials' }),
      });
      expect(issued.statusCode).toBe(200);
      const auth = bearer(issued.json<{ access_token: string }>().access_token);

      for (const { id, body } of ORIGINAL_REQUESTS) {
        const created = await t
          .http()
          .post(`${prefix}/tenants/${tenant}/integrations/${id}`)
          .set(...auth)
          .set('Content-Type', 'application/json; charset=utf-8')
          .send(JSON.stringify(body));
        expect({ id, status: created.status }).toEqual({ id, status: 201 });
        expect(created.body).toEqual({ type: id, ...body });
        const read = await t.http().get(`${prefix}/tenants/${tenant}/integrations/${id}`).set(...auth);
        expect(read.status).toBe(200);
        expect(read.body).toEqual({ type: id, ...body });
      }
      const list = await t.http().get(`${prefix}/tenants/${tenant}/integrations`).set(...auth);
      expect(list.status).toBe(200);
      expect(list.headers['x-total-count']).toBe(String(ORIGINAL_REQUESTS.length));
      expect((list.body as { id: string }[]).map((i) => i.id)).toEqual(['datasift', 'salesforce', 'sendgrid', 'twilio']);
      expect((await t.http().delete(`${prefix}/tenants/${tenant}/integrations/twilio`).set(...auth)).status).toBe(204);
    });
  }

  it('answers under /1.0 exactly as without it: errors, health, tenants, clients', async () => {
    const admin = bearer(adminToken());
    const tenant = await createTenant(t, 'prefix');
    for (const path of ['/health/live', '/health/ready', `/tenants/${tenant}`, `/tenants/${tenant}/api-clients`, '/integration-types', '/.well-known/oauth-authorization-server']) {
      const [plain, prefixed] = [await t.http().get(path).set(...admin), await t.http().get(`/1.0${path}`).set(...admin)];
      expect({ path, status: prefixed.status, body: prefixed.body }).toEqual({ path, status: plain.status, body: plain.body });
      expect(prefixed.status).toBe(200);
    }
    const missing = await t.http().get('/1.0/tenants/nope-nope-nope').set(...admin);
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: "Tenant 'nope-nope-nope' does not exist or has been deleted" });
    expect((await t.http().get(`/1.0/tenants/${tenant}`)).status).toBe(401);
    expect((await t.http().get('/1.0x/tenants').set(...admin)).status).toBe(404);
    expect((await t.http().get('/1.0').set(...admin)).status).toBe(404);
  });

  it('documents the prefix once, as a second server, not every route twice', async () => {
    const doc = (await t.http().get('/docs-json')).body as { servers: { url: string }[]; paths: Record<string, unknown> };
    expect(doc.servers.map((s) => s.url)).toEqual(['/', '/1.0']);
    expect(Object.keys(doc.paths).filter((path) => path.startsWith('/1.0'))).toEqual([]);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/token',
        '/oauth/token',
        '/.well-known/jwks.json',
        '/.well-known/oauth-authorization-server',
        '/tenants/{iid}/api-clients',
        '/tenants/{iid}/api-clients/{clientId}',
        '/tenants/{iid}/api-clients/{clientId}/secret',
      ]),
    );
  });
});
