import { auditRows, auditVerify } from '../helpers/audit';
import { adminToken, bearer, createTenant, startTestApp, token, type TestApp } from '../helpers/test-app';

/**
 * The integrations' side of the audit trail: every change (create, replace,
 * PATCH, delete, restore) is an event committed with it, and every answer
 * that carries a stored secret in plaintext (GET one, list, a version read,
 * a write's answer) is an event written before the answer leaves — or the
 * answer is a 503 without the secret.
 */
const AGENT = 'integration-audit-e2e/1.0';
const SECRET = 'audit-canary-secret-7f3a9c';
const OTHER_SECRET = 'audit-canary-secret-second-11b2';

/** Headers of a request as `sub`, with our own request id and user agent. */
const as = (tenant: string, sub: string, scope: string, requestId: string) => ({
  authorization: `Bearer ${token({ sub, scope, tenants: [tenant] })}`,
  'user-agent': AGENT,
  'x-request-id': requestId,
});
const WRITE = 'integrations:read integrations:write';
const REVEAL = 'integrations:read integrations:write integrations:secrets';

describe('Audit events of integrations', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({}, { ownDatabase: true });
  });
  afterAll(() => t?.close());

  const events = async (tenant: string, after = 0) =>
    (await auditRows(t, tenant))
      .filter((row) => row.action.startsWith('integration.') && row.seq > after)
      .map((row) => [row.action, row.target, row.outcome, row.actor_sub, row.request_id]);
  const lastSeq = async (tenant: string) => (await auditRows(t, tenant)).at(-1)?.seq ?? 0;

  it('records each change committed with it: who, which request, what, and the answer status', async () => {
    const tenant = await createTenant(t, 'audit-int');
    const writer = (requestId: string) => as(tenant, 'writer-svc', WRITE, requestId);
    const path = `/tenants/${tenant}/integrations/twilio`;
    expect((await t.http().post(path).set(writer('req-create-0001')).send({ account: 'AC1', password: SECRET })).status).toBe(201);
    expect((await t.http().post(path).set(writer('req-replace-0002')).send({ account: 'AC2', password: '********' })).status).toBe(200);
    expect((await t.http().patch(path).set(writer('req-patch-00003')).send({ account: 'AC3' })).status).toBe(200);
    expect((await t.http().delete(path).set(writer('req-delete-0004'))).status).toBe(204);
    expect((await t.http().post(`${path}/versions/2/restore`).set(writer('req-restore-005'))).status).toBe(201);

    expect(await events(tenant)).toEqual([
      ['integration.create', 'twilio', 201, 'writer-svc', 'req-create-0001'],
      ['integration.replace', 'twilio', 200, 'writer-svc', 'req-replace-0002'],
      ['integration.update', 'twilio', 200, 'writer-svc', 'req-patch-00003'],
      ['integration.delete', 'twilio', 204, 'writer-svc', 'req-delete-0004'],
      ['integration.restore', 'twilio', 201, 'writer-svc', 'req-restore-005'],
    ]);
    const rows = (await auditRows(t, tenant)).filter((row) => row.action.startsWith('integration.'));
    for (const row of rows) {
      expect(row.user_agent).toBe(AGENT);
      expect(row.client_address).toMatch(/127\.0\.0\.1|::1/);
    }
    // A refused write is no event: nothing changed.
    const before = await lastSeq(tenant);
    expect(
      (await t.http().post(path).set(writer('req-stale-00006')).set('If-Match', '"r1"').send({ account: 'X', password: 'y' })).status,
    ).toBe(412);
    expect(await lastSeq(tenant)).toBe(before);
    expect((await auditVerify(t, ['--tenant', tenant])).code).toBe(0);
  });

  it('records every answer that shows a stored secret in plaintext, and no masked one', async () => {
    const tenant = await createTenant(t, 'audit-read');
    const admin = bearer(adminToken());
    const base = `/tenants/${tenant}/integrations`;
    await t
      .http()
      .post(`${base}/twilio`)
      .set(...admin)
      .send({ account: 'AC1', password: SECRET })
      .expect(201);
    await t
      .http()
      .post(`${base}/sendgrid`)
      .set(...admin)
      .send({ account: 'sg-user', password: OTHER_SECRET })
      .expect(201);
    const start = await lastSeq(tenant);

    const masked = as(tenant, 'reader-masked', 'integrations:read', 'req-masked-0001');
    expect((await t.http().get(`${base}/twilio`).set(masked)).body.password).toBe('********');
    await t.http().get(base).set(masked).expect(200);
    await t.http().get(`${base}/twilio/versions/1`).set(masked).expect(200);
    expect(await events(tenant, start)).toEqual([]);

    const reveal = (requestId: string) => as(tenant, 'reader-plain', REVEAL, requestId);
    expect((await t.http().get(`${base}/twilio`).set(reveal('req-get-one-001'))).body.password).toBe(SECRET);
    const list = await t.http().get(base).set(reveal('req-list-000002'));
    expect(list.status).toBe(200);
    expect((await t.http().get(`${base}/twilio/versions/1`).set(reveal('req-version-003'))).body.integration.password).toBe(SECRET);
    // PATCH without the secret, answered to a revealing token: the stored secret is in the answer.
    const patched = await t.http().patch(`${base}/twilio`).set(reveal('req-patch-00004')).send({ account: 'AC2' });
    expect(patched.body.password).toBe(SECRET);
    expect(await events(tenant, start)).toEqual([
      ['integration.secret-read', 'twilio', 200, 'reader-plain', 'req-get-one-001'],
      ['integration.secret-read', 'sendgrid', 200, 'reader-plain', 'req-list-000002'],
      ['integration.secret-read', 'twilio', 200, 'reader-plain', 'req-list-000002'],
      ['integration.secret-read', 'twilio/versions/1', 200, 'reader-plain', 'req-version-003'],
      ['integration.update', 'twilio', 200, 'reader-plain', 'req-patch-00004'],
      ['integration.secret-read', 'twilio', 200, 'reader-plain', 'req-patch-00004'],
    ]);

    // Canary: no secret in any audit column, nor in the export.
    const stored = JSON.stringify(await auditRows(t, tenant));
    expect(stored).not.toContain(SECRET);
    expect(stored).not.toContain(OTHER_SECRET);
    const exported = await t
      .http()
      .get(`/tenants/${tenant}/audit`)
      .set(...admin)
      .set('Accept', 'application/x-ndjson');
    expect(exported.status).toBe(200);
    expect(exported.text).toContain('integration.secret-read');
    expect(exported.text).not.toContain(SECRET);
  });

  it('with the trail unwritable: a revealing read answers 503 without the secret, a change is not made, a masked read still answers', async () => {
    const tenant = await createTenant(t, 'audit-down');
    const admin = bearer(adminToken());
    const path = `/tenants/${tenant}/integrations/twilio`;
    await t
      .http()
      .post(path)
      .set(...admin)
      .send({ account: 'AC1', password: SECRET })
      .expect(201);
    await t.db.query('ALTER TABLE audit_events RENAME TO audit_events_away');
    try {
      const revealing = await t
        .http()
        .get(path)
        .set(as(tenant, 'reader', REVEAL, 'req-down-get-01'));
      expect(revealing.status).toBe(503);
      expect(revealing.body).toMatchObject({
        error: 'The audit trail cannot be written, so the secret is not sent; retry shortly',
        code: 'AUDIT_UNAVAILABLE',
      });
      expect(revealing.headers['retry-after']).toBe('5');
      expect(revealing.text).not.toContain(SECRET);
      const listed = await t
        .http()
        .get(`/tenants/${tenant}/integrations`)
        .set(as(tenant, 'reader', REVEAL, 'req-down-list-1'));
      expect(listed.status).toBe(503);
      expect(listed.text).not.toContain(SECRET);

      const masked = await t
        .http()
        .get(path)
        .set(as(tenant, 'reader', 'integrations:read', 'req-down-mask-1'));
      expect(masked.status).toBe(200);
      expect(masked.body.password).toBe('********');

      const write = await t
        .http()
        .post(path)
        .set(as(tenant, 'writer', WRITE, 'req-down-post-1'))
        .send({ account: 'AC2', password: 'new-one' });
      expect(write.status).toBe(503);
      expect(write.body.code).toBe('AUDIT_UNAVAILABLE');
      const removed = await t
        .http()
        .delete(path)
        .set(as(tenant, 'writer', WRITE, 'req-down-del-01'));
      expect(removed.status).toBe(503);
    } finally {
      await t.db.query('ALTER TABLE audit_events_away RENAME TO audit_events');
    }
    // Nothing changed while the trail was down: same content, same revision, no version made.
    const after = await t
      .http()
      .get(path)
      .set(...admin);
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ account: 'AC1', password: SECRET });
    expect(after.headers.etag).toBe('"r1"');
    expect(
      (
        await t
          .http()
          .get(`${path}/versions`)
          .set(...admin)
      ).headers['x-total-count'],
    ).toBe('1');
    expect((await auditVerify(t, ['--tenant', tenant])).code).toBe(0);
  });
});
