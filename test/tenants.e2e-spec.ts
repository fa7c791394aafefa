import { adminToken, bearer, createTenant, startTestApp, token, type TestApp } from './helpers/test-app';

describe('Tenants', () => {
  let t: TestApp;
  const admin = bearer(adminToken());

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('goes through its whole lifecycle with the documented statuses and bodies', async () => {
    const id = t.uniqueId('acme');
    const created = await t.http().post('/tenants').set(...admin).send({ id, name: 'Acme' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id, name: 'Acme' });
    expect(Date.parse(created.body['created-at'])).not.toBeNaN();

    const again = await t.http().post('/tenants').set(...admin).send({ id, name: 'Other' });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe(`Tenant '${id}' already exists`);

    const one = await t.http().get(`/tenants/${id}`).set(...admin);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id, name: 'Acme' });

    const renamed = await t.http().patch(`/tenants/${id}`).set(...admin).send({ name: 'Acme Corp' });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe('Acme Corp');
    expect((await t.http().get(`/tenants/${id}`).set(...admin)).body.name).toBe('Acme Corp');

    const deleted = await t.http().delete(`/tenants/${id}`).set(...admin);
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');

    const gone = `Tenant '${id}' does not exist or has been deleted`;
    for (const [method, path, body] of [
      ['get', `/tenants/${id}`, undefined],
      ['patch', `/tenants/${id}`, { name: 'x' }],
      ['delete', `/tenants/${id}`, undefined],
      ['get', `/tenants/${id}/integrations`, undefined],
      ['get', `/tenants/${id}/integrations/twilio`, undefined],
      ['post', `/tenants/${id}/integrations/twilio`, { id: 'twilio', account: 'SID', password: 'Token' }],
      ['post', `/tenants/${id}/integrations`, { id: 'twilio', account: 'SID', password: 'Token' }],
      ['patch', `/tenants/${id}/integrations/twilio`, { account: 'SID2' }],
      ['delete', `/tenants/${id}/integrations/twilio`, undefined],
    ] as const) {
      const response = await t.http()[method](path).set(...admin).send(body);
      expect({ method, path, status: response.status, error: response.body.error }).toEqual({ method, path, status: 404, error: gone });
    }

    const reuse = await t.http().post('/tenants').set(...admin).send({ id, name: 'Acme again' });
    expect(reuse.status).toBe(409);
    expect(reuse.body.error).toMatch(/deleted/);
  });

  it('lists the tenants a token may see, sorted by id, with X-Total-Count', async () => {
    const b = await createTenant(t, 'list-b');
    const a = await createTenant(t, 'list-a');
    const c = await createTenant(t, 'list-c');

    const scoped = await t
      .http()
      .get('/tenants')
      .set(...bearer(token({ scope: 'integrations:read', tenants: [b, a, 'does-not-exist'] })));
    expect(scoped.status).toBe(200);
    expect(scoped.body.map((x: { id: string }) => x.id)).toEqual([a, b]);
    expect(scoped.headers['x-total-count']).toBe('2');

    const all = await t.http().get('/tenants?limit=1000').set(...admin);
    const ids = all.body.map((x: { id: string }) => x.id);
    expect(ids).toEqual(expect.arrayContaining([a, b, c]));
    expect([...ids].sort()).toEqual(ids);

    const page = await t.http().get('/tenants?limit=1&offset=1').set(...bearer(token({ scope: 'integrations:read', tenants: [a, b, c] })));
    expect(page.body.map((x: { id: string }) => x.id)).toEqual([b]);
    expect(page.headers['x-total-count']).toBe('3');
  });

  it('keeps tenant management to platform admins and tenants to the tokens that list them', async () => {
    const a = await createTenant(t, 'own');
    const b = await createTenant(t, 'other');
    const reader = bearer(token({ scope: 'integrations:read integrations:write', tenants: [a] }));

    expect((await t.http().get(`/tenants/${a}`).set(...reader)).status).toBe(200);
    const foreign = await t.http().get(`/tenants/${b}`).set(...reader);
    expect(foreign.status).toBe(403);
    expect(foreign.body.error).toBe(`This token may not access tenant '${b}'`);
    // 403, not 404, for a tenant outside the token even when it does not exist.
    expect((await t.http().get('/tenants/no-such-tenant').set(...reader)).status).toBe(403);

    expect((await t.http().post('/tenants').set(...reader).send({ id: t.uniqueId('x'), name: 'x' })).status).toBe(403);
    expect((await t.http().patch(`/tenants/${a}`).set(...reader).send({ name: 'x' })).status).toBe(403);
    expect((await t.http().delete(`/tenants/${a}`).set(...reader)).status).toBe(403);
    expect((await t.http().get(`/tenants/${a}`).set(...admin)).body.name).toBe(`Tenant ${a}`);
  });

  it('validates tenant bodies', async () => {
    const cases: [unknown, RegExp][] = [
      [{ id: 'bad id!', name: 'x' }, /id must be 1-64 characters/],
      [{ id: 'a'.repeat(65), name: 'x' }, /id must be 1-64 characters/],
      [{ id: t.uniqueId('ok') }, /name/],
      [{ id: t.uniqueId('ok'), name: '' }, /name should not be empty/],
      [{ id: t.uniqueId('ok'), name: 'x', extra: 1 }, /property extra should not exist/],
      [{ id: 5, name: 'x' }, /id must be a string/],
    ];
    for (const [body, message] of cases) {
      const response = await t.http().post('/tenants').set(...admin).send(body as object);
      expect(response.status).toBe(400);
      expect(JSON.stringify(response.body.details)).toMatch(message);
    }
    expect((await t.http().get('/tenants?limit=0').set(...admin)).status).toBe(400);
    expect((await t.http().get('/tenants?limit=abc').set(...admin)).status).toBe(400);
  });
});
