import { userInfo } from 'node:os';
import { startFakeVendors, type FakeVendors } from '../fakes/fake-vendors';
import { auditRows, auditVerify, cli } from '../helpers/audit';
import { createClient } from '../helpers/clients';
import { adminToken, bearer, createTenant, startTestApp, TEST_KEY_A, TEST_KEY_B, token, type TestApp } from '../helpers/test-app';

/**
 * The audit trail records every privileged action this service owns, with who
 * did it and through which request: tenants, API clients, verification, key
 * rotation (the command line) and the platform's signing keys.
 */
const AGENT = 'audit-e2e/1.0 (+https://example.test)';
const LOOPBACK = /^(::ffff:)?127\.0\.0\.1$|^::1$/;
const HASH = /^[0-9a-f]{64}$/;
const cliUser = `cli:${userInfo().username}`;

/** A request as `sub` with a request id and a user agent of our choosing. */
const as = (sub: string, scope = 'platform:admin', tenants?: string[]) => ({
  authorization: `Bearer ${token({ sub, scope, ...(tenants ? { tenants } : {}) })}`,
  'user-agent': AGENT,
});

describe('Audit events', () => {
  let fakes: FakeVendors;
  let t: TestApp;

  beforeAll(async () => {
    fakes = await startFakeVendors();
    t = await startTestApp({ ...fakes.env, VERIFY_TIMEOUT_MS: '2000' });
  });
  afterAll(async () => {
    await t?.close();
    await fakes?.close();
  });

  const trail = async (tenant: string, query = '') => {
    const response = await t
      .http()
      .get(`/tenants/${tenant}/audit${query}`)
      .set(...bearer(adminToken()));
    expect(response.status).toBe(200);
    return response.body as { events: Record<string, unknown>[]; 'next-cursor': string | null };
  };

  it('records tenant create, update and delete in the same transaction as the change, with the caller, request id, address and user agent', async () => {
    const tenant = t.uniqueId('audited');
    const created = await t
      .http()
      .post('/tenants')
      .set(as('alice'))
      .set('X-Request-Id', 'req-create-0001')
      .send({ id: tenant, name: 'Before' });
    expect(created.status).toBe(201);
    const renamed = await t
      .http()
      .patch(`/tenants/${tenant}`)
      .set(as('bob'))
      .set('X-Request-Id', 'req-rename-0002')
      .send({ name: 'After' });
    expect(renamed.status).toBe(200);

    const rows = await auditRows(t, tenant);
    expect(rows.map((r) => [r.seq, r.action, r.target, r.outcome, r.actor_sub, r.request_id, r.user_agent])).toEqual([
      [1, 'tenant.create', tenant, 201, 'alice', 'req-create-0001', AGENT],
      [2, 'tenant.update', tenant, 200, 'bob', 'req-rename-0002', AGENT],
    ]);
    for (const row of rows) {
      expect(row.client_address).toMatch(LOOPBACK);
      expect(row.hash).toMatch(HASH);
    }
    expect(rows[0].prev_hash).toBe('0'.repeat(64));
    expect(rows[1].prev_hash).toBe(rows[0].hash);

    // A refused change is no event: 409 for an existing id, 404 for a missing tenant.
    expect((await t.http().post('/tenants').set(as('alice')).send({ id: tenant, name: 'Again' })).status).toBe(409);
    expect((await auditRows(t, tenant)).length).toBe(2);

    const deleted = await t.http().delete(`/tenants/${tenant}`).set(as('carol')).set('X-Request-Id', 'req-delete-0003');
    expect(deleted.status).toBe(204);
    // The trail outlives the tenant, and says who deleted it.
    const after = await trail(tenant);
    const deletion = after.events.find((e) => e.action === 'tenant.delete');
    expect(deletion).toMatchObject({
      seq: 3,
      tenant,
      actor: 'carol',
      target: tenant,
      outcome: 204,
      'request-id': 'req-delete-0003',
      'user-agent': AGENT,
    });
    expect(deletion?.['client-address']).toMatch(LOOPBACK);
    expect(deletion?.['prev-hash']).toBe(rows[1].hash);
  });

  it('records API client creation, secret rotation and deletion with the client id and never its secret', async () => {
    const tenant = await createTenant(t, 'clients');
    const manager = as('manager-1', 'clients:write integrations:read', [tenant]);
    const created = await t.http().post(`/tenants/${tenant}/api-clients`).set(manager).send({ name: 'Sync', scope: 'integrations:read' });
    expect(created.status).toBe(201);
    const clientId = created.body['client-id'] as string;
    const rotated = await t.http().post(`/tenants/${tenant}/api-clients/${clientId}/secret`).set(manager);
    expect(rotated.status).toBe(200);
    expect((await t.http().delete(`/tenants/${tenant}/api-clients/${clientId}`).set(manager)).status).toBe(204);
    // Deleting it again is a 404 and no event.
    expect((await t.http().delete(`/tenants/${tenant}/api-clients/${clientId}`).set(manager)).status).toBe(404);

    const rows = (await auditRows(t, tenant)).filter((r) => r.action.startsWith('client.'));
    expect(rows.map((r) => [r.action, r.target, r.outcome, r.actor_sub, r.user_agent])).toEqual([
      ['client.create', clientId, 201, 'manager-1', AGENT],
      ['client.rotate-secret', clientId, 200, 'manager-1', AGENT],
      ['client.delete', clientId, 204, 'manager-1', AGENT],
    ]);
    const everything = JSON.stringify(await auditRows(t, tenant));
    for (const secret of [created.body['client-secret'] as string, rotated.body['client-secret'] as string])
      expect(everything).not.toContain(secret);
  });

  it("records an API client's own actions under its client id (the token's sub)", async () => {
    const tenant = await createTenant(t, 'self');
    const manager = await createClient(t, tenant, 'clients:write');
    const issued = await t.app.inject({
      method: 'POST',
      url: '/token',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${manager.id}:${manager.secret}`).toString('base64')}`,
      },
      payload: 'grant_type=client_credentials',
    });
    expect(issued.statusCode).toBe(200);
    const accessToken = issued.json<{ access_token: string }>().access_token;
    const response = await t
      .http()
      .post(`/tenants/${tenant}/api-clients`)
      .set('Authorization', `Bearer ${accessToken}`)
      .send({ name: 'Child', scope: 'clients:write' });
    expect(response.status).toBe(201);
    const last = (await auditRows(t, tenant)).at(-1)!;
    expect(last).toMatchObject({ action: 'client.create', actor_sub: manager.id, target: response.body['client-id'] });
    expect(JSON.stringify(await auditRows(t, tenant))).not.toContain(accessToken);
  });

  it('records each verification with its result as the outcome: 200 accepted, 422 refused', async () => {
    const tenant = await createTenant(t, 'verify');
    const writer = as('verifier-7', 'integrations:read integrations:write', [tenant]);
    expect(
      (
        await t
          .http()
          .post(`/tenants/${tenant}/integrations/twilio`)
          .set(writer)
          .send({ ...fakes.good.twilio })
      ).status,
    ).toBe(201);
    const ok = await t.http().post(`/tenants/${tenant}/integrations/twilio/verify`).set(writer).set('X-Request-Id', 'req-verify-ok-1');
    expect(ok.body.status).toBe('ok');
    const wrong = 'wrong-auth-token-for-audit';
    expect((await t.http().patch(`/tenants/${tenant}/integrations/twilio`).set(writer).send({ password: wrong })).status).toBe(200);
    const refused = await t.http().post(`/tenants/${tenant}/integrations/twilio/verify`).set(writer).set('X-Request-Id', 'req-verify-no-2');
    expect(refused.body.status).toBe('failed');

    const rows = (await auditRows(t, tenant)).filter((r) => r.action === 'integration.verify');
    expect(rows.map((r) => [r.target, r.outcome, r.actor_sub, r.request_id])).toEqual([
      ['twilio', 200, 'verifier-7', 'req-verify-ok-1'],
      ['twilio', 422, 'verifier-7', 'req-verify-no-2'],
    ]);
    const everything = JSON.stringify(await auditRows(t, tenant));
    expect(everything).not.toContain(wrong);
    expect(everything).not.toContain(fakes.good.twilio.password);
  });

  it('a check whose event cannot be written is neither kept nor reported: 503, and the last kept result stands', async () => {
    const tenant = await createTenant(t, 'verify-down');
    const writer = as('verifier-8', 'integrations:read integrations:write', [tenant]);
    const path = `/tenants/${tenant}/integrations/twilio`;
    expect(
      (
        await t
          .http()
          .post(path)
          .set(writer)
          .send({ ...fakes.good.twilio })
      ).status,
    ).toBe(201);
    expect((await t.http().post(`${path}/verify`).set(writer)).body.status).toBe('ok');
    const kept = (await t.http().get(`${path}/verification`).set(writer)).body;
    expect(kept.status).toBe('ok');

    await t.db.query('ALTER TABLE audit_events RENAME TO audit_events_away');
    let refused;
    try {
      refused = await t.http().post(`${path}/verify`).set(writer);
    } finally {
      await t.db.query('ALTER TABLE audit_events_away RENAME TO audit_events');
    }
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({
      code: 'AUDIT_UNAVAILABLE',
      error: 'The audit trail cannot be written, so this check is not reported; retry shortly',
    });
    expect(refused.headers['retry-after']).toBe('5');
    // The refused check's result was rolled back with its event: the earlier one is still the last kept.
    expect((await t.http().get(`${path}/verification`).set(writer)).body).toEqual(kept);
    expect((await auditRows(t, tenant)).filter((r) => r.action === 'integration.verify')).toHaveLength(1);
  });

  it('records the first token-signing key in the platform chain, readable by platform admins only', async () => {
    const response = await t
      .http()
      .get('/platform/audit?action=signing-key.create')
      .set(...bearer(adminToken()));
    expect(response.status).toBe(200);
    // On a shared database the first key may be older than this run; then the trail still has its event.
    const events = response.body.events as Record<string, unknown>[];
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events[0]).toMatchObject({
      tenant: ':platform',
      action: 'signing-key.create',
      actor: 'system',
      outcome: 201,
      'request-id': null,
      'client-address': null,
    });

    const tenant = await createTenant(t, 'platform');
    const auditor = bearer(token({ scope: 'audit:read', tenants: [tenant] }));
    const refused = await t
      .http()
      .get('/platform/audit')
      .set(...auditor);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe("This token lacks the scope 'platform:admin'");
  });
});

describe('Audit events of the operator commands', () => {
  let t: TestApp;

  beforeAll(async () => {
    // A database of its own: a rotation visits every tenant in it.
    t = await startTestApp({ ENCRYPTION_KEYS: `${TEST_KEY_A},${TEST_KEY_B}` }, { ownDatabase: true });
  });
  afterAll(() => t?.close());

  it('keys:rotate records one event per tenant re-wrapped or re-keyed, and keys:rotate-signing one in the platform chain, as cli:<user>', async () => {
    const tenants = [await createTenant(t, 'rot'), await createTenant(t, 'rot')];
    const newFirst = { ENCRYPTION_KEYS: `${TEST_KEY_B},${TEST_KEY_A}` };

    const rewrap = await cli(t, ['keys:rotate'], newFirst);
    expect(rewrap.code).toBe(0);
    const reencrypt = await cli(t, ['keys:rotate', '--reencrypt'], newFirst);
    expect(reencrypt.code).toBe(0);
    const signing = await cli(t, ['keys:rotate-signing'], newFirst);
    expect(signing.code).toBe(0);
    const kid = /New token-signing key '([^']+)'/.exec(signing.stdout)![1];

    for (const tenant of tenants) {
      const keys = (await auditRows(t, tenant)).filter((r) => r.action.startsWith('keys.'));
      expect(keys.map((r) => [r.action, r.target, r.outcome, r.actor_sub, r.request_id, r.client_address, r.user_agent])).toEqual([
        ['keys.rewrap', 'master-key:test-b', 200, cliUser, null, null, null],
        ['keys.replace', 'data-key:v2', 200, cliUser, null, null, null],
      ]);
    }
    const platform = (await auditRows(t, ':platform')).map((r) => [r.action, r.target, r.actor_sub]);
    expect(platform).toContainEqual(['signing-key.rewrap', expect.any(String), cliUser]);
    expect(platform.at(-1)).toEqual(['signing-key.rotate', kid, cliUser]);

    // The running service appends after the command's events (its cached head was behind), and every chain still verifies.
    expect(
      (
        await t
          .http()
          .patch(`/tenants/${tenants[0]}`)
          .set(...bearer(adminToken()))
          .send({ name: 'Renamed' })
      ).status,
    ).toBe(200);
    const rows = await auditRows(t, tenants[0]);
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_r, i) => i + 1));
    expect(rows.at(-1)).toMatchObject({ action: 'tenant.update', prev_hash: rows.at(-2)!.hash });
    const verified = await auditVerify(t);
    expect(verified.code).toBe(0);
    expect(verified.report).toMatchObject({ ok: true, problems: [] });
  });
});
