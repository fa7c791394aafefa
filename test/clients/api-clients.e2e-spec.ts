import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { basicAuth, claimsOf, clientToken, createClient, headerOf, postToken } from '../helpers/clients';
import { adminToken, bearer, createTenant, startTestApp, TEST_KEY_A, TEST_KEY_B, token, type TestApp } from '../helpers/test-app';

const run = promisify(execFile);
const admin = bearer(adminToken());

/**
 * Issue 13, API clients: the lifecycle of a tenant's clients, who may give
 * them which scopes, tokens that reach only their tenant, secret rotation
 * with its overlap, deletion (revocation) and signing-key rotation.
 */
describe('API clients', () => {
  let t: TestApp;
  let tenant: string;
  let other: string;
  beforeAll(async () => {
    t = await startTestApp();
    tenant = await createTenant(t, 'clients');
    other = await createTenant(t, 'clients-other');
    await t.http().post(`/tenants/${tenant}/integrations/twilio`).set(...admin).send({ account: 'AC1', password: 'twilio-secret' });
    await t.http().post(`/tenants/${other}/integrations/twilio`).set(...admin).send({ account: 'AC2', password: 'other-secret' });
  });
  afterAll(() => t.close());

  it('creates a client whose secret is shown once and stored only as a scrypt hash, lists it, reads it, and deletes it', async () => {
    const created = await t.http().post(`/tenants/${tenant}/api-clients`).set(...admin).send({ name: 'Billing sync', scope: 'integrations:secrets integrations:read' });
    expect(created.status).toBe(201);
    expect(created.headers['cache-control']).toBe('no-store');
    const body = created.body as Record<string, string>;
    expect(Object.keys(body).sort()).toEqual(['client-id', 'client-secret', 'created-at', 'name', 'scope']);
    expect(body['client-id']).toMatch(/^ic-[0-9a-f]{24}$/);
    // 256 random bits: 43 base64url characters after the prefix.
    expect(body['client-secret']).toMatch(/^ics-[A-Za-z0-9_-]{43}$/);
    expect(body).toMatchObject({ name: 'Billing sync', scope: 'integrations:read integrations:secrets' });
    expect(new Date(body['created-at']).toISOString()).toBe(body['created-at']);
    const id = body['client-id'];

    const [row] = await t.db.query<Record<string, unknown>>('SELECT * FROM api_clients WHERE id = ?', [id]);
    expect(row.secret_hash).toMatch(/^\$scrypt\$ln=\d+,r=\d+,p=\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(row)).not.toContain(body['client-secret']);
    expect(JSON.stringify(row)).not.toContain(body['client-secret'].slice(4));

    const list = await t.http().get(`/tenants/${tenant}/api-clients`).set(...admin);
    expect(list.status).toBe(200);
    expect(list.headers['x-total-count']).toBe(String(list.body.length));
    const listed = (list.body as Record<string, unknown>[]).find((c) => c['client-id'] === id);
    expect(listed).toEqual({
      'client-id': id,
      name: 'Billing sync',
      scope: 'integrations:read integrations:secrets',
      'created-at': body['created-at'],
      'secret-created-at': body['created-at'],
      'previous-secret-expires-at': null,
    });
    expect(JSON.stringify(list.body)).not.toContain(body['client-secret']);
    expect((await t.http().get(`/tenants/${tenant}/api-clients/${id}`).set(...admin)).body).toEqual(listed);
    // Another tenant's list does not show it, and its id does not reach it there.
    expect(JSON.stringify((await t.http().get(`/tenants/${other}/api-clients`).set(...admin)).body)).not.toContain(id);
    expect(await t.http().get(`/tenants/${other}/api-clients/${id}`).set(...admin)).toMatchObject({
      status: 404,
      body: { error: `API client '${id}' does not exist in tenant '${other}'`, code: 'API_CLIENT_NOT_FOUND' },
    });

    expect((await t.http().delete(`/tenants/${tenant}/api-clients/${id}`).set(...admin)).status).toBe(204);
    expect((await t.http().get(`/tenants/${tenant}/api-clients/${id}`).set(...admin)).status).toBe(404);
    expect((await t.http().delete(`/tenants/${tenant}/api-clients/${id}`).set(...admin)).status).toBe(404);
    expect(await t.db.query('SELECT id FROM api_clients WHERE id = ?', [id])).toEqual([]);
  });

  it('answers 404 for a tenant that does not exist, 400 for a malformed client id, and pages the list', async () => {
    const missing = t.uniqueId('missing');
    expect(await t.http().post(`/tenants/${missing}/api-clients`).set(...admin).send({ name: 'x', scope: 'integrations:read' })).toMatchObject({
      status: 404,
      body: { error: `Tenant '${missing}' does not exist or has been deleted`, code: 'TENANT_NOT_FOUND' },
    });
    expect((await t.http().get(`/tenants/${missing}/api-clients`).set(...admin)).status).toBe(404);
    expect((await t.http().get(`/tenants/${missing}/api-clients/ic-0`).set(...admin)).status).toBe(404);
    expect((await t.http().post(`/tenants/${missing}/api-clients/ic-0/secret`).set(...admin)).status).toBe(404);
    expect(await t.http().get(`/tenants/${tenant}/api-clients/${encodeURIComponent('a b')}`).set(...admin)).toMatchObject({
      status: 400,
      body: { error: 'clientId in the path must be 1-64 characters of letters, digits, ".", "_" or "-"' },
    });

    const paged = await createTenant(t, 'clients-paged');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await createClient(t, paged, 'integrations:read', adminToken(), `c${i}`)).id);
    const page = await t.http().get(`/tenants/${paged}/api-clients?limit=2&offset=1`).set(...admin);
    expect(page.headers['x-total-count']).toBe('3');
    expect((page.body as { 'client-id': string }[]).map((c) => c['client-id'])).toEqual(ids.slice(1));
  });

  it("refuses scopes no client may hold (400) and scopes the caller does not hold (403); clients:write of another tenant gets 403", async () => {
    const create = (jwt: string, scope: string, iid = tenant) =>
      t.http().post(`/tenants/${iid}/api-clients`).set(...bearer(jwt)).send({ name: 'x', scope });
    expect(await create(adminToken(), 'platform:admin')).toMatchObject({
      status: 400,
      body: { error: 'Validation failed (scope: an API client cannot hold platform:admin: its tokens reach only its tenant)', code: 'VALIDATION_FAILED' },
    });
    expect(await create(adminToken(), 'integrations:read integrations:delete')).toMatchObject({
      status: 400,
      body: {
        error:
          "Validation failed (scope: unknown scope 'integrations:delete'; an API client may hold integrations:read, integrations:write, integrations:secrets, clients:write, audit:read, webhooks:read, webhooks:write)",
      },
    });
    expect((await create(adminToken(), '   ')).status).toBe(400);
    expect((await t.http().post(`/tenants/${tenant}/api-clients`).set(...admin).send({ scope: 'integrations:read' })).status).toBe(400);
    expect((await t.http().post(`/tenants/${tenant}/api-clients`).set(...admin).send({ name: 'x', scope: 'integrations:read', extra: 1 })).status).toBe(400);

    const manager = token({ scope: 'clients:write integrations:read', tenants: [tenant] });
    expect(await create(manager, 'integrations:read integrations:secrets')).toMatchObject({
      status: 403,
      body: { error: "This token may not grant the scope 'integrations:secrets': it does not hold it", code: 'FORBIDDEN' },
    });
    const made = await create(manager, 'integrations:read');
    expect(made.status).toBe(201);
    expect(made.body.scope).toBe('integrations:read');
    expect(await create(manager, 'integrations:read', other)).toMatchObject({ status: 403, body: { error: `This token may not access tenant '${other}'` } });
    expect(await create(token({ scope: 'integrations:read integrations:write', tenants: [tenant] }), 'integrations:read')).toMatchObject({
      status: 403,
      body: { error: "This token lacks the scope 'clients:write'" },
    });
  });

  it("gives tokens that reach only the client's tenant, with only its scope; a token used on another tenant gets 403", async () => {
    const client = await createClient(t, tenant, 'integrations:read');
    const jwt = await clientToken(t, client);
    expect(claimsOf(jwt)).toMatchObject({ sub: client.id, tenants: [tenant], scope: 'integrations:read' });

    const own = await t.http().get(`/tenants/${tenant}/integrations/twilio`).set(...bearer(jwt));
    expect(own.status).toBe(200);
    expect(own.body).toEqual({ id: 'twilio', type: 'twilio', account: 'AC1', password: '********' });
    expect(await t.http().get(`/tenants/${other}/integrations/twilio`).set(...bearer(jwt))).toMatchObject({
      status: 403,
      body: { error: `This token may not access tenant '${other}'`, code: 'FORBIDDEN' },
    });
    expect((await t.http().get('/tenants').set(...bearer(jwt))).body.map((x: { id: string }) => x.id)).toEqual([tenant]);
    expect(await t.http().post(`/tenants/${tenant}/integrations/twilio`).set(...bearer(jwt)).send({ account: 'AC9', password: 'p' })).toMatchObject({
      status: 403,
      body: { error: "This token lacks the scope 'integrations:write'" },
    });
    expect((await t.http().post('/tenants').set(...bearer(jwt)).send({ id: t.uniqueId('nope'), name: 'n' })).status).toBe(403);

    // A client holding clients:write manages its own tenant's clients, within its own scope.
    const manager = await createClient(t, tenant, 'clients:write integrations:read');
    const managerJwt = await clientToken(t, manager);
    expect((await t.http().post(`/tenants/${tenant}/api-clients`).set(...bearer(managerJwt)).send({ name: 'sub', scope: 'integrations:read' })).status).toBe(201);
    expect((await t.http().post(`/tenants/${tenant}/api-clients`).set(...bearer(managerJwt)).send({ name: 'sub', scope: 'integrations:write' })).status).toBe(403);
    expect((await t.http().post(`/tenants/${other}/api-clients`).set(...bearer(managerJwt)).send({ name: 'sub', scope: 'integrations:read' })).status).toBe(403);
  });

  it("refuses a deleted client's live token at once, with the reason", async () => {
    const client = await createClient(t, tenant, 'integrations:read');
    const jwt = await clientToken(t, client);
    expect((await t.http().get(`/tenants/${tenant}/integrations`).set(...bearer(jwt))).status).toBe(200);
    expect((await t.http().delete(`/tenants/${tenant}/api-clients/${client.id}`).set(...admin)).status).toBe(204);
    const refused = await t.http().get(`/tenants/${tenant}/integrations`).set(...bearer(jwt));
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ error: 'Token has been revoked: its API client was deleted', code: 'UNAUTHENTICATED' });
    expect(refused.headers['www-authenticate']).toBe('Bearer');
    expect((await postToken(t, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.id, client.secret) })).json()).toMatchObject({
      error: 'invalid_client',
    });
    // The revocation is stored for the other instances and outlives the client row.
    expect(await t.db.query('SELECT client_id FROM api_client_revocations WHERE client_id = ?', [client.id])).toEqual([{ client_id: client.id }]);
  });

  it('keeps the previous secret working for CLIENT_SECRET_OVERLAP after a rotation, then refuses it with invalid_grant', async () => {
    const client = await createClient(t, tenant, 'integrations:read');
    const jwt = await clientToken(t, client);
    const before = Date.now();
    const rotated = await t.http().post(`/tenants/${tenant}/api-clients/${client.id}/secret`).set(...admin);
    expect(rotated.status).toBe(200);
    const body = rotated.body as Record<string, string>;
    expect(body['client-id']).toBe(client.id);
    expect(body['client-secret']).toMatch(/^ics-[A-Za-z0-9_-]{43}$/);
    expect(body['client-secret']).not.toBe(client.secret);
    // 24 h by default.
    const overlapEnds = new Date(body['previous-secret-expires-at']).getTime();
    expect(overlapEnds - before).toBeGreaterThanOrEqual(24 * 3600_000 - 1000);
    expect(overlapEnds - Date.now()).toBeLessThanOrEqual(24 * 3600_000 + 1000);
    expect((await t.http().get(`/tenants/${tenant}/api-clients/${client.id}`).set(...admin)).body['previous-secret-expires-at']).toBe(
      body['previous-secret-expires-at'],
    );

    const renewed = { id: client.id, secret: body['client-secret'] };
    expect((await postToken(t, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.id, client.secret) })).statusCode).toBe(200);
    expect((await postToken(t, { grant_type: 'client_credentials' }, { authorization: basicAuth(renewed.id, renewed.secret) })).statusCode).toBe(200);
    // Tokens issued before the rotation stay valid: the client was not revoked.
    expect((await t.http().get(`/tenants/${tenant}/integrations`).set(...bearer(jwt))).status).toBe(200);

    // The overlap ends (moved into the past behind the API's back, rather than waiting a day).
    const past = new Date(Date.now() - 1000).toISOString().replace('T', ' ').replace('Z', '');
    await t.db.query('UPDATE api_clients SET previous_secret_expires_at = ? WHERE id = ?', [past, client.id]);
    const late = await postToken(t, { grant_type: 'client_credentials', client_id: client.id, client_secret: client.secret });
    expect(late.statusCode).toBe(400);
    expect(late.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/^This client secret was replaced; it stopped working at /) });
    expect((await postToken(t, { grant_type: 'client_credentials' }, { authorization: basicAuth(renewed.id, renewed.secret) })).statusCode).toBe(200);
    expect((await t.http().get(`/tenants/${tenant}/api-clients/${client.id}`).set(...admin)).body['previous-secret-expires-at']).toBeNull();
  });

  it("deleting a tenant removes its clients (the foreign key cascades), and their tokens reach nothing", async () => {
    const doomed = await createTenant(t, 'clients-doomed');
    const client = await createClient(t, doomed, 'integrations:read');
    const jwt = await clientToken(t, client);
    expect((await t.http().delete(`/tenants/${doomed}`).set(...admin)).status).toBe(204);
    expect(await t.db.query('SELECT id FROM api_clients WHERE tenant_id = ?', [doomed])).toEqual([]);
    expect((await postToken(t, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.id, client.secret) })).statusCode).toBe(401);
    expect((await t.http().get(`/tenants/${doomed}/integrations`).set(...bearer(jwt))).status).toBe(404);
    expect((await t.http().get('/tenants').set(...bearer(jwt))).body).toEqual([]);
  });

  it('rotates the signing key with npm run keys:rotate-signing: tokens of both keys are accepted, both are published', async () => {
    const client = await createClient(t, tenant, 'integrations:read');
    const first = await clientToken(t, client);
    const env = {
      ...process.env,
      DATABASE_URL: t.config.database.kind === 'sqlite' ? `sqlite:${t.config.database.path}` : t.config.database.url,
      ENCRYPTION_KEYS: `${TEST_KEY_A},${TEST_KEY_B}`,
      JWT_SECRET: 'cli-test-secret-that-is-32-bytes-long',
      DATA_DIR: t.config.app.dataDir,
    };
    const { stdout } = await run(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, '../../src/cli.ts'), 'keys:rotate-signing'], {
      env,
      timeout: 60_000,
    });
    const kid = /New token-signing key '([^']+)'/.exec(stdout)?.[1];
    expect(kid).toBeDefined();
    expect(stdout).toMatch(/retired: .*still published \(and accepted\) until /);
    expect(stdout).toContain(`'${String(headerOf(first).kid)}'`);

    // The running instance signs with the new key once it has read the keys again (every 5 s).
    let second = first;
    for (let i = 0; i < 40 && headerOf(second).kid !== kid; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      second = await clientToken(t, client);
    }
    expect(headerOf(second).kid).toBe(kid);
    expect(headerOf(first).kid).not.toBe(kid);
    for (const jwt of [first, second]) expect((await t.http().get(`/tenants/${tenant}/integrations`).set(...bearer(jwt))).status).toBe(200);
    const jwks = (await t.http().get('/.well-known/jwks.json')).body as { keys: { kid: string }[] };
    expect(jwks.keys[0].kid).toBe(kid);
    expect(jwks.keys.map((k) => k.kid)).toContain(headerOf(first).kid);
  });
});
