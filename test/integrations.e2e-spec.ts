import { SEED_EXAMPLES } from './helpers/seed-examples';
import { adminToken, bearer, createTenant, startTestApp, token, type TestApp } from './helpers/test-app';

/** The original page's requests, verbatim (only host and token change), and the keys each answer must carry. */
type SeedExamples = typeof SEED_EXAMPLES;
const SEED = Object.fromEntries(
  Object.entries(SEED_EXAMPLES).map(([vendor, request]) => [vendor, { request, returnKeys: Object.keys(request) }]),
) as { [V in keyof SeedExamples]: { request: SeedExamples[V]; returnKeys: string[] } };

/** The page's curl -d bodies, as printed there (the Salesforce one lacks a comma: malformed JSON). */
const SEED_CURL_BODIES: Record<string, string> = {
  salesforce:
    '{"id": "salesforce", "type": "salesforce", "consumer-key": "consumerkey", "consumer-secret":"consumersecret","username":"email@userevents.com"\n"secret-token":"secret-token","password":"password","instance":"instance-id"}',
  twilio: '{"id": "twilio", "type": "twilio", "account": "SID", "password":"Token"}',
  sendgrid: '{"id": "sendgrid", "type": "sendgrid", "account": "username", "password":"password"}',
  datasift: '{"id": "datasift", "type": "datasift", "api-key": "api-key", "username":"username"}',
};

describe('Integrations: the original contract', () => {
  let t: TestApp;
  const admin = bearer(adminToken());

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const post = (path: string, body: string | object, auth = admin) =>
    t
      .http()
      .post(path)
      .set(...auth)
      .set('Content-Type', 'application/json; charset=utf-8')
      .send(typeof body === 'string' ? body : JSON.stringify(body));

  it.each(Object.entries(SEED))('accepts the seed %s request verbatim: 201, then 200 when repeated', async (vendor, seed) => {
    const tenant = await createTenant(t, 'seed');
    const path = `/tenants/${tenant}/integrations/${vendor}`;
    const created = await post(path, seed.request);
    expect(created.status).toBe(201);
    expect(created.body).toEqual(expect.objectContaining(seed.request));
    for (const key of seed.returnKeys) expect(created.body).toHaveProperty([key]);
    expect(created.body.type).toBe(vendor);
    expect(created.headers['content-type']).toMatch(/application\/json/);

    const replaced = await post(path, seed.request);
    expect(replaced.status).toBe(200);
    expect(replaced.body).toEqual(created.body);
  });

  it.each(['twilio', 'sendgrid', 'datasift'])('accepts the seed %s curl body as printed', async (vendor) => {
    const tenant = await createTenant(t, 'curl');
    const response = await post(`/tenants/${tenant}/integrations/${vendor}`, SEED_CURL_BODIES[vendor]);
    expect(response.status).toBe(201);
    expect(response.body).toEqual(JSON.parse(SEED_CURL_BODIES[vendor]));
  });

  it("answers the seed's malformed Salesforce curl body with a clean 400", async () => {
    const tenant = await createTenant(t, 'curl');
    const response = await post(`/tenants/${tenant}/integrations/salesforce`, SEED_CURL_BODIES.salesforce);
    expect(response.status).toBe(400);
    expect(response.body.error).toMatch(/JSON/);
    expect(JSON.stringify(response.body)).not.toMatch(/consumersecret|stack|at .*\.js/);
  });

  it('echoes a client-sent Salesforce instance and keeps it as the initial value', async () => {
    const tenant = await createTenant(t, 'sf');
    const body = { ...SEED.salesforce.request, instance: 'instance-id' };
    const created = await post(`/tenants/${tenant}/integrations/salesforce`, body);
    expect(created.status).toBe(201);
    expect(created.body.instance).toBe('instance-id');
    // A replace that leaves the server-assigned field out keeps it.
    const replaced = await post(`/tenants/${tenant}/integrations/salesforce`, SEED.salesforce.request);
    expect(replaced.body.instance).toBe('instance-id');
  });

  it('takes the id from the body on POST /tenants/:iid/integrations, as the original clients did', async () => {
    const tenant = await createTenant(t, 'bodyid');
    const created = await post(`/tenants/${tenant}/integrations`, SEED.twilio.request);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: 'twilio', type: 'twilio', account: 'SID', password: 'Token' });
    const missingId = await post(`/tenants/${tenant}/integrations`, { account: 'SID', password: 'Token', type: 'twilio' });
    expect(missingId.status).toBe(400);
    expect(missingId.body.details).toEqual([{ field: 'id', message: expect.stringMatching(/id is required/) }]);
  });

  it('holds several integrations of one type under different ids', async () => {
    const tenant = await createTenant(t, 'multi');
    const eu = await post(`/tenants/${tenant}/integrations/salesforce-eu`, { ...SEED.salesforce.request, id: 'salesforce-eu' });
    expect(eu.status).toBe(201);
    expect(eu.body.type).toBe('salesforce');
    const noType = await post(`/tenants/${tenant}/integrations/twilio-backup`, { account: 'SID', password: 'Token' });
    expect(noType.status).toBe(400);
    expect(noType.body.error).toMatch(/type is required.*known types: salesforce, twilio/);
  });

  describe('reads', () => {
    let tenant: string;
    beforeAll(async () => {
      tenant = await createTenant(t, 'reads');
      for (const seed of Object.values(SEED)) await post(`/tenants/${tenant}/integrations/${seed.request.id}`, seed.request);
    });

    it('list and single GET show the same integrations, sorted by id, secrets masked for integrations:read', async () => {
      const reader = bearer(token({ scope: 'integrations:read', tenants: [tenant] }));
      const list = await t.http().get(`/tenants/${tenant}/integrations`).set(...reader);
      expect(list.status).toBe(200);
      expect(list.headers['x-total-count']).toBe('4');
      expect(list.headers['cache-control']).toBe('no-store');
      expect(list.body.map((i: { id: string }) => i.id)).toEqual(['datasift', 'salesforce', 'sendgrid', 'twilio']);
      expect(list.body.find((i: { id: string }) => i.id === 'salesforce')).toEqual({
        id: 'salesforce',
        type: 'salesforce',
        'consumer-key': 'consumerkey',
        'consumer-secret': '********',
        username: 'dev@userevents.com',
        password: '********',
        'secret-token': '********',
      });
      for (const item of list.body) {
        const one = await t.http().get(`/tenants/${tenant}/integrations/${item.id}`).set(...reader);
        expect(one.status).toBe(200);
        expect(one.body).toEqual(item);
        expect(one.headers.etag).toMatch(/^"r\d+"$/);
      }
    });

    it('shows plaintext to a token with integrations:secrets', async () => {
      const revealer = bearer(token({ scope: 'integrations:read integrations:secrets', tenants: [tenant] }));
      const list = await t.http().get(`/tenants/${tenant}/integrations`).set(...revealer);
      const byId = Object.fromEntries(list.body.map((i: { id: string }) => [i.id, i]));
      for (const seed of Object.values(SEED)) expect(byId[seed.request.id]).toEqual(expect.objectContaining(seed.request));
      const one = await t.http().get(`/tenants/${tenant}/integrations/twilio`).set(...revealer);
      expect(one.body).toEqual({ id: 'twilio', type: 'twilio', account: 'SID', password: 'Token' });
    });

    it('pages with limit and offset', async () => {
      const page = await t.http().get(`/tenants/${tenant}/integrations?limit=2&offset=1`).set(...admin);
      expect(page.body.map((i: { id: string }) => i.id)).toEqual(['salesforce', 'sendgrid']);
      expect(page.headers['x-total-count']).toBe('4');
      const tooMany = await t.http().get(`/tenants/${tenant}/integrations?limit=1001`).set(...admin);
      expect(tooMany.status).toBe(400);
      expect(tooMany.body.details).toEqual([{ field: 'limit', message: 'limit must be an integer from 1 to 1000' }]);
      const unknown = await t.http().get(`/tenants/${tenant}/integrations?sort=id`).set(...admin);
      expect(unknown.status).toBe(400);
      expect(unknown.body.error).toBe('Validation failed (unknown field: sort)');
    });

    it('answers 404 for an integration that does not exist', async () => {
      const response = await t.http().get(`/tenants/${tenant}/integrations/pusher`).set(...admin);
      expect(response.status).toBe(404);
      expect(response.body.error).toBe(`Integration 'pusher' does not exist in tenant '${tenant}'`);
    });
  });

  describe('validation', () => {
    let tenant: string;
    beforeAll(async () => {
      tenant = await createTenant(t, 'valid');
    });

    it.each([
      ['mismatched ids', 'twilio', { id: 'sendgrid', account: 'a', password: 'b' }, 'id', /does not match/],
      ['unknown type', 'x', { type: 'fax', account: 'a' }, 'type', /Unknown type "fax"; known types: salesforce, twilio, sendgrid, datasift, pusher, urban-airship/],
      ['unknown field', 'twilio', { account: 'a', password: 'b', color: 'red' }, 'color', /should not exist/],
      ['missing field', 'twilio', { account: 'a' }, 'password', /should not be empty|must be a string/],
      ['wrong JSON type', 'twilio', { account: 42, password: 'b' }, 'account', /must be a string/],
      ['null for a required field', 'twilio', { account: null, password: 'b' }, 'account', /must be a string/],
      ['oversize string', 'twilio', { account: 'a'.repeat(513), password: 'b' }, 'account', /shorter than or equal to 512/],
      ['oversize secret', 'twilio', { account: 'a', password: 'p'.repeat(2049) }, 'password', /shorter than or equal to 2048/],
      ['empty string', 'datasift', { username: '', 'api-key': 'k' }, 'username', /should not be empty/],
      ['type not a string', 'twilio', { type: 7, account: 'a', password: 'b' }, 'type', /Unknown type/],
      ['array body', 'twilio', [], 'body', /JSON object/],
    ])('%s → 400 naming the field', async (_name, id, body, field, message) => {
      const response = await post(`/tenants/${tenant}/integrations/${id}`, body);
      expect(response.status).toBe(400);
      expect(typeof response.body.error).toBe('string');
      const detail = response.body.details.find((d: { field: string }) => d.field === field);
      expect(detail?.message).toMatch(message);
      expect((await t.http().get(`/tenants/${tenant}/integrations/${id}`).set(...admin)).status).toBe(404);
    });

    it('names every unknown and every missing field at once', async () => {
      const response = await post(`/tenants/${tenant}/integrations/salesforce`, { username: 'u', a: 1, b: 2 });
      expect(response.status).toBe(400);
      const fields = response.body.details.map((d: { field: string }) => d.field).sort();
      expect(fields).toEqual(['a', 'b', 'consumer-key', 'consumer-secret', 'password', 'secret-token'].sort());
      expect(response.body.error).toMatch(/unknown fields: a, b/);
    });

    it('refuses a value that is already an encrypted envelope', async () => {
      const response = await post(`/tenants/${tenant}/integrations/twilio`, { account: 'a', password: 'enc:v1:dek-1:AAAA:BBBB:CCCC' });
      expect(response.status).toBe(400);
      expect(response.body.details[0]).toEqual({ field: 'password', message: expect.stringMatching(/looks like an encrypted envelope/) });
    });

    it('refuses the mask for a secret that has no stored value', async () => {
      const response = await post(`/tenants/${tenant}/integrations/twilio`, { account: 'a', password: '********' });
      expect(response.status).toBe(400);
      expect(response.body.details[0].field).toBe('password');
    });
  });

  describe('writes', () => {
    let tenant: string;
    beforeEach(async () => {
      tenant = await createTenant(t, 'writes');
      await post(`/tenants/${tenant}/integrations/salesforce`, SEED.salesforce.request);
    });
    const reveal = () => bearer(token({ scope: 'integrations:read integrations:secrets', tenants: [tenant] }));

    it('PATCH changes only the fields sent; secrets left out keep their values', async () => {
      const patched = await t.http().patch(`/tenants/${tenant}/integrations/salesforce`).set(...admin).send({ username: 'ops@userevents.com' });
      expect(patched.status).toBe(200);
      const stored = await t.http().get(`/tenants/${tenant}/integrations/salesforce`).set(...reveal());
      expect(stored.body).toEqual({ ...SEED.salesforce.request, username: 'ops@userevents.com' });
    });

    it('PATCH of a secret stores the new value; the response echoes it and masks the others for a writer', async () => {
      const writer = bearer(token({ scope: 'integrations:write', tenants: [tenant] }));
      const patched = await t.http().patch(`/tenants/${tenant}/integrations/salesforce`).set(...writer).send({ password: 'new-password' });
      expect(patched.status).toBe(200);
      expect(patched.body.password).toBe('new-password');
      expect(patched.body['consumer-secret']).toBe('********');
      const stored = await t.http().get(`/tenants/${tenant}/integrations/salesforce`).set(...reveal());
      expect(stored.body.password).toBe('new-password');
      expect(stored.body['consumer-secret']).toBe('consumersecret');
    });

    it('GET, edit, send back: the mask keeps the stored secrets on POST and PATCH', async () => {
      const reader = bearer(token({ scope: 'integrations:read integrations:write', tenants: [tenant] }));
      const masked = (await t.http().get(`/tenants/${tenant}/integrations/salesforce`).set(...reader)).body;
      expect(masked.password).toBe('********');
      const replaced = await post(`/tenants/${tenant}/integrations/salesforce`, { ...masked, username: 'edited@userevents.com' }, reader);
      expect(replaced.status).toBe(200);
      const patched = await t.http().patch(`/tenants/${tenant}/integrations/salesforce`).set(...reader).send({ password: '********' });
      expect(patched.status).toBe(200);
      const stored = await t.http().get(`/tenants/${tenant}/integrations/salesforce`).set(...reveal());
      expect(stored.body).toEqual({ ...SEED.salesforce.request, username: 'edited@userevents.com' });
    });

    it('PATCH cannot change the type, and validates like POST', async () => {
      const typeChange = await t.http().patch(`/tenants/${tenant}/integrations/salesforce`).set(...admin).send({ type: 'twilio' });
      expect(typeChange.status).toBe(400);
      expect(typeChange.body.error).toMatch(/type cannot change/);
      const unknown = await t.http().patch(`/tenants/${tenant}/integrations/salesforce`).set(...admin).send({ colour: 'red' });
      expect(unknown.status).toBe(400);
      expect(unknown.body.details).toEqual([{ field: 'colour', message: 'property colour should not exist' }]);
      const cleared = await t.http().patch(`/tenants/${tenant}/integrations/salesforce`).set(...admin).send({ password: null });
      expect(cleared.status).toBe(400);
      expect(cleared.body.details[0].field).toBe('password');
      expect((await t.http().patch(`/tenants/${tenant}/integrations/nope`).set(...admin).send({ a: 1 })).status).toBe(404);
    });

    it('DELETE removes it (204), then 404', async () => {
      const deleted = await t.http().delete(`/tenants/${tenant}/integrations/salesforce`).set(...admin);
      expect(deleted.status).toBe(204);
      expect((await t.http().get(`/tenants/${tenant}/integrations/salesforce`).set(...admin)).status).toBe(404);
      expect((await t.http().delete(`/tenants/${tenant}/integrations/salesforce`).set(...admin)).status).toBe(404);
    });

    it('ETag and If-Match guard against lost updates', async () => {
      const first = await t.http().get(`/tenants/${tenant}/integrations/salesforce`).set(...admin);
      const etag: string = first.headers.etag;
      const ok = await t.http().patch(`/tenants/${tenant}/integrations/salesforce`).set(...admin).set('If-Match', etag).send({ username: 'a@b.c' });
      expect(ok.status).toBe(200);
      expect(ok.headers.etag).not.toBe(etag);
      const stale = await t.http().patch(`/tenants/${tenant}/integrations/salesforce`).set(...admin).set('If-Match', etag).send({ username: 'x@y.z' });
      expect(stale.status).toBe(412);
      const staleDelete = await t.http().delete(`/tenants/${tenant}/integrations/salesforce`).set(...admin).set('If-Match', etag);
      expect(staleDelete.status).toBe(412);
      expect((await t.http().get(`/tenants/${tenant}/integrations/salesforce`).set(...reveal())).body.username).toBe('a@b.c');
    });
  });

  describe('scopes and tenants', () => {
    it('needs integrations:read to read, integrations:write to write, and the tenant in the token', async () => {
      const tenant = await createTenant(t, 'scope');
      const other = await createTenant(t, 'scope-other');
      const path = `/tenants/${tenant}/integrations/twilio`;
      const readOnly = bearer(token({ scope: 'integrations:read', tenants: [tenant] }));
      const writeOnly = bearer(token({ scope: 'integrations:write', tenants: [tenant] }));
      const otherTenant = bearer(token({ scope: 'integrations:read integrations:write', tenants: [other] }));

      expect((await post(path, SEED.twilio.request, readOnly)).status).toBe(403);
      expect((await post(path, SEED.twilio.request, writeOnly)).status).toBe(201);
      expect((await t.http().get(path).set(...writeOnly)).status).toBe(403);
      expect((await t.http().get(path).set(...readOnly)).status).toBe(200);
      expect((await t.http().delete(path).set(...readOnly)).status).toBe(403);
      for (const response of [
        await t.http().get(path).set(...otherTenant),
        await t.http().get(`/tenants/${tenant}/integrations`).set(...otherTenant),
        await post(path, SEED.twilio.request, otherTenant),
        await t.http().delete(path).set(...otherTenant),
      ]) {
        expect(response.status).toBe(403);
        expect(response.body.error).toBe(`This token may not access tenant '${tenant}'`);
      }
      expect((await t.http().get(path).set(...readOnly)).body.account).toBe('SID');
    });
  });

  it('GET /integration-types lists the six vendors with their JSON Schemas and secret fields', async () => {
    const response = await t.http().get('/integration-types').set(...bearer(token({ scope: 'integrations:read', tenants: [] })));
    expect(response.status).toBe(200);
    const byType = Object.fromEntries(response.body.map((v: { type: string }) => [v.type, v]));
    expect(Object.keys(byType)).toEqual(['salesforce', 'twilio', 'sendgrid', 'datasift', 'pusher', 'urban-airship']);
    expect(byType.salesforce['secret-fields']).toEqual(['consumer-secret', 'password', 'secret-token']);
    expect(byType.twilio['secret-fields']).toEqual(['password']);
    expect(byType.sendgrid['secret-fields']).toEqual(['password']);
    expect(byType.datasift['secret-fields']).toEqual(['api-key']);
    expect(byType.pusher['secret-fields']).toEqual(['secret']);
    expect(byType['urban-airship']['secret-fields']).toEqual(['password']);
    expect(byType.twilio.schema).toMatchObject({
      type: 'object',
      additionalProperties: false,
      required: ['account', 'password'],
      properties: { account: { type: 'string' }, password: { type: 'string', writeOnly: true } },
    });
  });
});
