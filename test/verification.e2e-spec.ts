import {
  FAKE_SALESFORCE_INSTANCE_URL,
  type FakeVendorKey,
  type FakeVendors,
  type FakeVendorType,
  startFakeVendors,
} from './fakes/fake-vendors';
import { adminToken, bearer, createTenant, startTestApp, token, type TestApp } from './helpers/test-app';

/**
 * Issue 6: credential verification against the (local, loopback) fake vendors,
 * the kept result, Salesforce instance discovery, VERIFY_ON_SAVE and ?dry-run=true.
 */
const TIMEOUT_MS = 1000;
/** Time allowed beyond the vendor timeout for the app and the database. */
const MARGIN_MS = 1500;
const MASK = '********';

/** Per vendor: its fake, the identity field that triggers the fakes' behaviours, a secret field, and what the answers say. */
const VENDORS: {
  type: FakeVendorType;
  key: FakeVendorKey;
  identity: string;
  secret: string;
  ok: RegExp;
  rejected: RegExp;
}[] = [
  { type: 'salesforce', key: 'salesforce', identity: 'username', secret: 'password', ok: /^Logged in to Salesforce as /, rejected: /^Salesforce rejected the login: invalid_grant/ },
  { type: 'twilio', key: 'twilio', identity: 'account', secret: 'password', ok: /^Twilio account .* is active$/, rejected: /^Twilio rejected the credentials: Authenticate \(code 20003\), HTTP 401$/ },
  { type: 'sendgrid', key: 'sendgrid', identity: 'account', secret: 'password', ok: /^Signed in to SendGrid as /, rejected: /^SendGrid rejected the credentials: authorization required, HTTP 401$/ },
  { type: 'datasift', key: 'datasift', identity: 'username', secret: 'api-key', ok: /^DataSift accepted the API key of /, rejected: /^DataSift rejected the credentials: Authentication failed, HTTP 401$/ },
  { type: 'pusher', key: 'pusher', identity: 'key', secret: 'secret', ok: /^Pusher accepted key /, rejected: /^Pusher rejected the credentials: Invalid signature/ },
  { type: 'urban-airship', key: 'urbanAirship', identity: 'username', secret: 'password', ok: /^Urban Airship accepted app key /, rejected: /^Urban Airship rejected the credentials: Unauthorized \(error_code 40101\), HTTP 401$/ },
];

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('Verification against the vendors', () => {
  let fakes: FakeVendors;
  let t: TestApp;
  const admin = bearer(adminToken());
  const writer = (tenant: string) => bearer(token({ scope: 'integrations:read integrations:write', tenants: [tenant] }));
  const revealer = (tenant: string) => bearer(token({ scope: 'integrations:read integrations:secrets', tenants: [tenant] }));

  beforeAll(async () => {
    fakes = await startFakeVendors();
    t = await startTestApp({ ...fakes.env, VERIFY_TIMEOUT_MS: String(TIMEOUT_MS) });
  });
  afterAll(async () => {
    await t?.close();
    await fakes?.close();
  });

  const path = (tenant: string, id: string, rest = '') => `/tenants/${tenant}/integrations/${id}${rest}`;
  const save = (app: TestApp, tenant: string, id: string, body: object, query = '') =>
    app.http().post(`${path(tenant, id)}${query}`).set(...writer(tenant)).send(body);
  const verify = (app: TestApp, tenant: string, id: string) => app.http().post(path(tenant, id, '/verify')).set(...writer(tenant));
  const lastResult = (app: TestApp, tenant: string, id: string) => app.http().get(path(tenant, id, '/verification')).set(...writer(tenant));
  const row = async (app: TestApp, tenant: string, id: string) => (await app.db.query('SELECT * FROM integrations WHERE tenant_id = ? AND id = ?', [tenant, id]))[0];
  const secretsOf = (type: FakeVendorType): string[] => {
    const good = fakes.good[type];
    const vendor = VENDORS.find((v) => v.type === type);
    return Object.entries(good)
      .filter(([field]) => ['password', 'secret', 'api-key', 'consumer-secret', 'secret-token'].includes(field) || field === vendor?.secret)
      .map(([, value]) => value);
  };

  describe.each(VENDORS)('$type', (v) => {
    it('answers ok for the good credentials, keeps the result, and failed with the reason for a wrong secret', async () => {
      const tenant = await createTenant(t, `v-${v.key.toLowerCase()}`);
      const id = `${v.type}-main`;
      expect((await save(t, tenant, id, { type: v.type, ...fakes.good[v.type] })).status).toBe(201);

      const before = await lastResult(t, tenant, id);
      expect(before.status).toBe(404);
      expect(before.body.error).toBe(`Integration '${id}' has not been verified yet`);

      const started = Date.now();
      const ok = await verify(t, tenant, id);
      expect(ok.status).toBe(200);
      expect(Object.keys(ok.body).sort()).toEqual(['checked-at', 'message', 'status']);
      expect(ok.body.status).toBe('ok');
      expect(ok.body.message).toMatch(v.ok);
      expect(ok.body['checked-at']).toMatch(ISO);
      expect(Date.parse(ok.body['checked-at'])).toBeGreaterThanOrEqual(started - 5);
      expect(Date.parse(ok.body['checked-at'])).toBeLessThanOrEqual(Date.now() + 5);

      const kept = await lastResult(t, tenant, id);
      expect(kept.status).toBe(200);
      // GET adds when the scheduler checks next: null, scheduled checks being off here (VERIFY_INTERVAL unset).
      expect(kept.body).toEqual({ ...ok.body, 'next-check-at': null });
      // A reader may see it too.
      const reader = bearer(token({ scope: 'integrations:read', tenants: [tenant] }));
      expect((await t.http().get(path(tenant, id, '/verification')).set(...reader)).body).toEqual({ ...ok.body, 'next-check-at': null });

      // New credentials: the old result no longer describes them.
      const wrong = `wrong-${v.secret}-value-123`;
      expect((await save(t, tenant, id, { type: v.type, ...fakes.good[v.type], [v.secret]: wrong })).status).toBe(200);
      expect((await lastResult(t, tenant, id)).status).toBe(404);

      const failed = await verify(t, tenant, id);
      expect(failed.status).toBe(200);
      expect(failed.body.status).toBe('failed');
      expect(failed.body.message).toMatch(v.rejected);
      expect(failed.body.message).not.toContain(wrong);
      expect((await lastResult(t, tenant, id)).body).toEqual({ ...failed.body, 'next-check-at': null });
      expect(JSON.stringify(await row(t, tenant, id))).not.toContain(wrong);
    });

    it('keeps every secret out of the message when the vendor echoes the credentials', async () => {
      const tenant = await createTenant(t, 'echo');
      const id = `${v.type}-echo`;
      expect((await save(t, tenant, id, { type: v.type, ...fakes.good[v.type], [v.identity]: 'echo' })).status).toBe(201);
      const response = await verify(t, tenant, id);
      expect(response.status).toBe(200);
      expect(response.body.status).toBe('failed');
      expect(response.body.message).toContain(MASK);
      const stored = JSON.stringify((await lastResult(t, tenant, id)).body);
      for (const secret of secretsOf(v.type)) {
        for (const text of [response.text, stored]) {
          expect(text).not.toContain(secret);
          expect(text).not.toContain(encodeURIComponent(secret));
          expect(text).not.toContain(Buffer.from(secret).toString('base64'));
        }
      }
    });
  });

  it("sets Salesforce's instance from instance_url, shown by GET, as a new revision", async () => {
    const tenant = await createTenant(t, 'sf-instance');
    const created = await save(t, tenant, 'salesforce', { type: 'salesforce', ...fakes.good.salesforce, instance: 'https://old.example.test' });
    expect(created.status).toBe(201);
    const etag = created.headers.etag;

    const result = await verify(t, tenant, 'salesforce');
    expect(result.body).toMatchObject({ status: 'ok', message: expect.stringContaining(FAKE_SALESFORCE_INSTANCE_URL) });

    const read = await t.http().get(path(tenant, 'salesforce')).set(...writer(tenant));
    expect(read.status).toBe(200);
    expect(read.body).toEqual({
      id: 'salesforce',
      type: 'salesforce',
      'consumer-key': fakes.good.salesforce['consumer-key'],
      'consumer-secret': MASK,
      username: fakes.good.salesforce.username,
      password: MASK,
      'secret-token': MASK,
      instance: FAKE_SALESFORCE_INSTANCE_URL,
    });
    expect(read.headers.etag).not.toBe(etag);
    // The secrets are untouched by the update.
    expect((await t.http().get(path(tenant, 'salesforce')).set(...revealer(tenant))).body.password).toBe(fakes.good.salesforce.password);

    // Nothing new learned: the same revision.
    expect((await verify(t, tenant, 'salesforce')).body.status).toBe('ok');
    expect((await t.http().get(path(tenant, 'salesforce')).set(...writer(tenant))).headers.etag).toBe(read.headers.etag);
  });

  it('answers failed ("timed out") within the configured timeout when the vendor hangs, never a 5xx', async () => {
    const tenant = await createTenant(t, 'hang');
    expect((await save(t, tenant, 'twilio', { ...fakes.good.twilio, account: 'hang' })).status).toBe(201);
    const started = Date.now();
    const response = await verify(t, tenant, 'twilio');
    const elapsed = Date.now() - started;
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('failed');
    expect(response.body.message).toBe(`Twilio did not answer: timed out after ${TIMEOUT_MS} ms`);
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
  });

  it("answers failed, not a 5xx, when the vendor answers 500", async () => {
    const tenant = await createTenant(t, 'e500');
    expect((await save(t, tenant, 'sendgrid', { ...fakes.good.sendgrid, account: 'error500' })).status).toBe(201);
    const response = await verify(t, tenant, 'sendgrid');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: 'failed', message: 'SendGrid answered HTTP 500: internal server error' });
  });

  it('holds no database lock while it waits for a vendor: writes of the same tenant go on', async () => {
    const tenant = await createTenant(t, 'nolock');
    expect((await save(t, tenant, 'twilio', { ...fakes.good.twilio, account: 'hang' })).status).toBe(201);
    const hanging = verify(t, tenant, 'twilio').then((r) => r);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const started = Date.now();
    const write = await save(t, tenant, 'sendgrid', fakes.good.sendgrid);
    expect(write.status).toBe(201);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS / 2);
    expect((await hanging).body.status).toBe('failed');
  });

  it('answers 404 for a missing integration or tenant, 403 to a token of another tenant or without the scope', async () => {
    const tenant = await createTenant(t, 'authz');
    const other = await createTenant(t, 'authz-other');
    expect((await save(t, tenant, 'twilio', fakes.good.twilio)).status).toBe(201);

    for (const response of [await verify(t, tenant, 'nope'), await lastResult(t, tenant, 'nope')]) {
      expect(response.status).toBe(404);
      expect(response.body.error).toBe(`Integration 'nope' does not exist in tenant '${tenant}'`);
    }
    const ghost = t.uniqueId('ghost');
    for (const method of ['post', 'get'] as const) {
      const response = await t.http()[method](path(ghost, 'twilio', method === 'post' ? '/verify' : '/verification')).set(...admin);
      expect(response.status).toBe(404);
      expect(response.body.error).toBe(`Tenant '${ghost}' does not exist or has been deleted`);
    }

    const stranger = bearer(token({ scope: 'integrations:read integrations:write integrations:secrets', tenants: [other] }));
    const hits = fakes.hits.twilio;
    for (const request of [t.http().post(path(tenant, 'twilio', '/verify')), t.http().get(path(tenant, 'twilio', '/verification'))]) {
      const response = await request.set(...stranger);
      expect(response.status).toBe(403);
      expect(typeof response.body.error).toBe('string');
    }
    const readOnly = bearer(token({ scope: 'integrations:read', tenants: [tenant] }));
    expect((await t.http().post(path(tenant, 'twilio', '/verify')).set(...readOnly)).status).toBe(403);
    expect(fakes.hits.twilio).toBe(hits);
    expect((await lastResult(t, tenant, 'twilio')).status).toBe(404);
  });

  it('does not let a result outlive its integration', async () => {
    const tenant = await createTenant(t, 'outlive');
    expect((await save(t, tenant, 'twilio', fakes.good.twilio)).status).toBe(201);
    expect((await verify(t, tenant, 'twilio')).body.status).toBe('ok');
    expect((await t.http().delete(path(tenant, 'twilio')).set(...writer(tenant))).status).toBe(204);
    expect((await lastResult(t, tenant, 'twilio')).status).toBe(404);
    expect((await save(t, tenant, 'twilio', fakes.good.twilio)).status).toBe(201);
    expect((await lastResult(t, tenant, 'twilio')).body.error).toBe("Integration 'twilio' has not been verified yet");
  });

  describe('?dry-run=true', () => {
    it('validates and verifies a new integration, answers the result, and writes nothing', async () => {
      const tenant = await createTenant(t, 'dry-new');
      const hits = fakes.hits.datasift;
      const ok = await save(t, tenant, 'datasift', fakes.good.datasift, '?dry-run=true');
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({ status: 'ok', message: expect.stringMatching(/^DataSift accepted/), 'checked-at': expect.stringMatching(ISO) });
      expect(fakes.hits.datasift).toBe(hits + 1);

      // The body-id form too.
      const bad = await t
        .http()
        .post(`/tenants/${tenant}/integrations?dry-run=true`)
        .set(...writer(tenant))
        .send({ id: 'datasift', ...fakes.good.datasift, 'api-key': 'not-the-key' });
      expect(bad.status).toBe(200);
      expect(bad.body).toMatchObject({ status: 'failed', message: expect.stringMatching(/^DataSift rejected the credentials/) });

      expect((await t.http().get(path(tenant, 'datasift')).set(...writer(tenant))).status).toBe(404);
      expect((await t.db.query('SELECT id FROM integrations WHERE tenant_id = ?', [tenant])).length).toBe(0);
    });

    it('leaves an existing integration byte-identical, and takes masked secrets from it', async () => {
      const tenant = await createTenant(t, 'dry-old');
      expect((await save(t, tenant, 'sendgrid', fakes.good.sendgrid)).status).toBe(201);
      expect((await verify(t, tenant, 'sendgrid')).body.status).toBe('ok');
      const before = JSON.stringify(await row(t, tenant, 'sendgrid'));
      const result = (await lastResult(t, tenant, 'sendgrid')).body;

      const masked = await save(t, tenant, 'sendgrid', { account: fakes.good.sendgrid.account, password: MASK }, '?dry-run=true');
      expect(masked.status).toBe(200);
      expect(masked.body.status).toBe('ok');

      const changed = await save(t, tenant, 'sendgrid', { account: fakes.good.sendgrid.account, password: 'another-password' }, '?dry-run=true');
      expect(changed.status).toBe(200);
      expect(changed.body.status).toBe('failed');

      expect(JSON.stringify(await row(t, tenant, 'sendgrid'))).toBe(before);
      expect((await lastResult(t, tenant, 'sendgrid')).body).toEqual(result);
      expect((await t.http().get(path(tenant, 'sendgrid')).set(...revealer(tenant))).body.password).toBe(fakes.good.sendgrid.password);
    });

    it('refuses what the write would refuse, before calling the vendor', async () => {
      const tenant = await createTenant(t, 'dry-bad');
      const hits = fakes.hits.twilio;
      const masked = await save(t, tenant, 'twilio', { account: fakes.good.twilio.account, password: MASK }, '?dry-run=true');
      expect(masked.status).toBe(400);
      expect(masked.body.error).toMatch(/keeps a stored secret, and there is none/);
      const invalid = await save(t, tenant, 'twilio', { account: fakes.good.twilio.account }, '?dry-run=true');
      expect(invalid.status).toBe(400);
      const flag = await save(t, tenant, 'twilio', fakes.good.twilio, '?dry-run=yes');
      expect(flag.status).toBe(400);
      expect(flag.body.error).toBe('dry-run must be true or false');
      const ghost = t.uniqueId('ghost');
      expect((await t.http().post(`${path(ghost, 'twilio')}?dry-run=true`).set(...admin).send(fakes.good.twilio)).status).toBe(404);
      expect(fakes.hits.twilio).toBe(hits);
      expect((await t.db.query('SELECT id FROM integrations WHERE tenant_id = ?', [tenant])).length).toBe(0);
    });

    it('is an ordinary write with dry-run=false', async () => {
      const tenant = await createTenant(t, 'dry-false');
      const response = await save(t, tenant, 'twilio', fakes.good.twilio, '?dry-run=false');
      expect(response.status).toBe(201);
      expect(response.body).toEqual({ id: 'twilio', type: 'twilio', ...fakes.good.twilio });
    });
  });

  describe('VERIFY_ON_SAVE=true', () => {
    let s: TestApp;
    beforeAll(async () => {
      s = await startTestApp({ ...fakes.env, VERIFY_TIMEOUT_MS: String(TIMEOUT_MS), VERIFY_ON_SAVE: 'true' });
    });
    afterAll(() => s?.close());

    it('refuses credentials the vendor rejects with 422 and the vendor message, and stores nothing', async () => {
      const tenant = await createTenant(s, 'onsave-bad');
      for (const url of [path(tenant, 'twilio'), `/tenants/${tenant}/integrations`]) {
        const response = await s
          .http()
          .post(url)
          .set(...writer(tenant))
          .send({ id: 'twilio', ...fakes.good.twilio, password: 'wrong-auth-token' });
        expect(response.status).toBe(422);
        expect(response.body.error).toBe('Twilio rejected the credentials: Authenticate (code 20003), HTTP 401');
        expect(response.text).not.toContain('wrong-auth-token');
      }
      expect((await s.http().get(path(tenant, 'twilio')).set(...writer(tenant))).status).toBe(404);
      expect((await s.db.query('SELECT id FROM integrations WHERE tenant_id = ?', [tenant])).length).toBe(0);
    });

    it('refuses a hanging vendor with 422 "timed out" within the timeout', async () => {
      const tenant = await createTenant(s, 'onsave-hang');
      const started = Date.now();
      const response = await save(s, tenant, 'pusher', { ...fakes.good.pusher, key: 'hang' });
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
      expect(response.status).toBe(422);
      expect(response.body.error).toBe(`Pusher did not answer: timed out after ${TIMEOUT_MS} ms`);
      expect((await s.http().get(path(tenant, 'pusher')).set(...writer(tenant))).status).toBe(404);
    });

    it('keeps secrets out of the 422 when the vendor echoes them', async () => {
      const tenant = await createTenant(s, 'onsave-echo');
      const response = await save(s, tenant, 'urban-airship', { ...fakes.good['urban-airship'], username: 'echo' });
      expect(response.status).toBe(422);
      expect(response.text).not.toContain(fakes.good['urban-airship'].password);
      expect(response.body.error).toContain(MASK);
    });

    it('stores good credentials with their result and what the vendor taught (Salesforce instance)', async () => {
      const tenant = await createTenant(s, 'onsave-good');
      const created = await save(s, tenant, 'salesforce', { type: 'salesforce', ...fakes.good.salesforce });
      expect(created.status).toBe(201);
      expect(created.body.instance).toBe(FAKE_SALESFORCE_INSTANCE_URL);
      expect(created.body.password).toBe(fakes.good.salesforce.password); // the echo of what was sent, as always
      const read = await s.http().get(path(tenant, 'salesforce')).set(...writer(tenant));
      expect(read.body.instance).toBe(FAKE_SALESFORCE_INSTANCE_URL);
      expect(read.headers.etag).toBe(created.headers.etag);
      const result = await lastResult(s, tenant, 'salesforce');
      expect(result.status).toBe(200);
      expect(result.body).toMatchObject({ status: 'ok', message: expect.stringMatching(/^Logged in to Salesforce/) });
    });

    it('verifies a replace that sends secrets back masked, using the stored ones', async () => {
      const tenant = await createTenant(s, 'onsave-mask');
      expect((await save(s, tenant, 'twilio', fakes.good.twilio)).status).toBe(201);
      const replaced = await save(s, tenant, 'twilio', { account: fakes.good.twilio.account, password: MASK });
      expect(replaced.status).toBe(200);
      expect(replaced.body.password).toBe(MASK);
      expect((await s.http().get(path(tenant, 'twilio')).set(...revealer(tenant))).body.password).toBe(fakes.good.twilio.password);
    });

    it('verifies PATCH on the merged integration: 422 leaves it unchanged, good changes are stored', async () => {
      const tenant = await createTenant(s, 'onsave-patch');
      const created = await save(s, tenant, 'salesforce', { type: 'salesforce', ...fakes.good.salesforce });
      expect(created.status).toBe(201);
      const before = JSON.stringify(await row(s, tenant, 'salesforce'));

      const bad = await s.http().patch(path(tenant, 'salesforce')).set(...writer(tenant)).send({ 'secret-token': 'WrongToken' });
      expect(bad.status).toBe(422);
      expect(bad.body.error).toMatch(/^Salesforce rejected the login: invalid_grant/);
      expect(bad.text).not.toContain('WrongToken');
      expect(JSON.stringify(await row(s, tenant, 'salesforce'))).toBe(before);

      // Only a secret sent back masked plus a changed non-secret that the fake ignores: verified with the stored secrets.
      const good = await s.http().patch(path(tenant, 'salesforce')).set(...writer(tenant)).send({ password: MASK, instance: 'https://client.example.test' });
      expect(good.status).toBe(200);
      // The vendor's instance wins over the client's.
      expect(good.body.instance).toBe(FAKE_SALESFORCE_INSTANCE_URL);
      expect(good.headers.etag).not.toBe(created.headers.etag);
      expect((await lastResult(s, tenant, 'salesforce')).body.status).toBe('ok');

      // Refusals of the write itself keep their usual status.
      expect((await s.http().patch(path(tenant, 'salesforce')).set(...writer(tenant)).send({ type: 'twilio' })).status).toBe(400);
      expect((await s.http().patch(path(tenant, 'nope')).set(...writer(tenant)).send({ password: 'x' })).status).toBe(404);
    });

    it('still answers a dry run with 200 and the result, storing nothing', async () => {
      const tenant = await createTenant(s, 'onsave-dry');
      const response = await save(s, tenant, 'twilio', { ...fakes.good.twilio, password: 'wrong' }, '?dry-run=true');
      expect(response.status).toBe(200);
      expect(response.body.status).toBe('failed');
      expect((await s.http().get(path(tenant, 'twilio')).set(...writer(tenant))).status).toBe(404);
    });
  });
});
