import { FAKE_SALESFORCE_INSTANCE_URL, type FakeVendors, startFakeVendors } from '../fakes/fake-vendors';
import { adminToken, bearer, createTenant, startTestApp, token, type TestApp } from '../helpers/test-app';

/**
 * Versions and rollback: every create, replace, PATCH, delete and restore of
 * an integration keeps the state it made as a numbered version (the
 * revision), listed newest first, shown masked or revealed, and restorable,
 * also after a delete. Asserted through the API, as a user sees it.
 */
const MASK = '********';
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('Integration versions and rollback', () => {
  let t: TestApp;
  let fakes: FakeVendors;
  const admin = bearer(adminToken());

  beforeAll(async () => {
    fakes = await startFakeVendors();
    t = await startTestApp({ ...fakes.env, VERIFY_TIMEOUT_MS: '2000' });
  });
  afterAll(async () => {
    await t?.close();
    await fakes?.close();
  });

  /** Tokens of one tenant: a writer named `sub`, a reader, and a reader that may see secrets. */
  const writer = (tenant: string, sub = 'svc-a') =>
    bearer(token({ sub, scope: 'integrations:read integrations:write', tenants: [tenant] }));
  const reader = (tenant: string) => bearer(token({ sub: 'reader', scope: 'integrations:read', tenants: [tenant] }));
  const revealer = (tenant: string) =>
    bearer(token({ sub: 'revealer', scope: 'integrations:read integrations:secrets', tenants: [tenant] }));

  const path = (tenant: string, id: string, rest = '') => `/tenants/${tenant}/integrations/${id}${rest}`;
  const post = (tenant: string, id: string, body: object, auth = writer(tenant), headers: Record<string, string> = {}) =>
    t
      .http()
      .post(path(tenant, id))
      .set(...auth)
      .set(headers)
      .send(body);
  const patch = (tenant: string, id: string, body: object, auth = writer(tenant)) =>
    t
      .http()
      .patch(path(tenant, id))
      .set(...auth)
      .send(body);
  const remove = (tenant: string, id: string, auth = writer(tenant)) =>
    t
      .http()
      .delete(path(tenant, id))
      .set(...auth);
  const versions = (tenant: string, id: string, query = '', auth = reader(tenant)) =>
    t
      .http()
      .get(path(tenant, id, `/versions${query}`))
      .set(...auth);
  const version = (tenant: string, id: string, rev: number | string, auth = reader(tenant)) =>
    t
      .http()
      .get(path(tenant, id, `/versions/${rev}`))
      .set(...auth);
  const restore = (tenant: string, id: string, rev: number | string, auth = writer(tenant), headers: Record<string, string> = {}) =>
    t
      .http()
      .post(path(tenant, id, `/versions/${rev}/restore`))
      .set(...auth)
      .set(headers);

  it('numbers a version for every create, replace, PATCH, delete, re-create and restore, newest first, with who wrote it and through which request', async () => {
    const tenant = await createTenant(t, 'hist');
    const steps: [string, () => Promise<{ status: number; headers: Record<string, string> }>][] = [
      [
        'create',
        () => post(tenant, 'twilio', { account: 'AC-1', password: 'pw-1' }, writer(tenant), { 'x-request-id': 'req-create-0001' }),
      ],
      ['replace', () => post(tenant, 'twilio', { account: 'AC-2', password: 'pw-2' })],
      ['patch', () => patch(tenant, 'twilio', { account: 'AC-3' })],
      ['delete', () => remove(tenant, 'twilio', writer(tenant, 'ops-b'))],
      ['re-create', () => post(tenant, 'twilio', { account: 'AC-5', password: 'pw-5' })],
      ['restore', () => restore(tenant, 'twilio', 2)],
    ];
    const answers: [string, number, string | undefined][] = [];
    for (const [step, run] of steps) {
      const answer = await run();
      answers.push([step, answer.status, answer.headers.etag]);
    }
    expect(answers).toEqual([
      ['create', 201, '"r1"'],
      ['replace', 200, '"r2"'],
      ['patch', 200, '"r3"'],
      ['delete', 204, undefined],
      ['re-create', 201, '"r5"'],
      ['restore', 200, '"r6"'],
    ]);

    const list = await versions(tenant, 'twilio');
    expect(list.status).toBe(200);
    expect(list.headers['x-total-count']).toBe('6');
    expect(
      list.body.map((v: { revision: number; action: string; actor: string; deleted: boolean; 'restored-from': number | null }) => [
        v.revision,
        v.action,
        v.actor,
        v.deleted,
        v['restored-from'],
      ]),
    ).toEqual([
      [6, 'restore', 'svc-a', false, 2],
      [5, 'create', 'svc-a', false, null],
      [4, 'delete', 'ops-b', true, null],
      [3, 'patch', 'svc-a', false, null],
      [2, 'replace', 'svc-a', false, null],
      [1, 'create', 'svc-a', false, null],
    ]);
    const first = list.body[5];
    expect(first).toEqual({
      revision: 1,
      action: 'create',
      actor: 'svc-a',
      'request-id': 'req-create-0001',
      'created-at': expect.stringMatching(ISO),
      'restored-from': null,
      deleted: false,
      integration: { id: 'twilio', type: 'twilio', account: 'AC-1', password: MASK },
    });
    expect(list.body[2]).not.toHaveProperty('integration');
    expect(list.body[0].integration).toEqual({ id: 'twilio', type: 'twilio', account: 'AC-2', password: MASK });
    const times = list.body.map((v: { 'created-at': string }) => Date.parse(v['created-at']));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    const page = await versions(tenant, 'twilio', '?limit=2&offset=1');
    expect(page.headers['x-total-count']).toBe('6');
    expect(page.body.map((v: { revision: number }) => v.revision)).toEqual([5, 4]);

    // What the integration is now: version 6, which is version 2 again.
    const now = await t
      .http()
      .get(path(tenant, 'twilio'))
      .set(...revealer(tenant));
    expect({ status: now.status, etag: now.headers.etag, body: now.body }).toEqual({
      status: 200,
      etag: '"r6"',
      body: { id: 'twilio', type: 'twilio', account: 'AC-2', password: 'pw-2' },
    });
  });

  it('restores an old version exactly, secrets included, like a replace: If-Match honoured, 200 with the new ETag', async () => {
    const tenant = await createTenant(t, 'hist-sf');
    const original = {
      type: 'salesforce',
      'consumer-key': 'ck-original',
      'consumer-secret': 'cs-original',
      username: 'dev@example.com',
      password: 'pw-original',
      'secret-token': 'st-original',
      instance: 'https://eu1.example.my.salesforce.com',
    };
    expect((await post(tenant, 'salesforce-eu', original)).status).toBe(201);
    expect((await patch(tenant, 'salesforce-eu', { password: 'pw-new', username: 'ops@example.com' })).status).toBe(200);
    expect((await patch(tenant, 'salesforce-eu', { instance: null, 'secret-token': 'st-new' })).status).toBe(200);

    // A stale or a wrong If-Match changes nothing.
    expect((await restore(tenant, 'salesforce-eu', 1, writer(tenant), { 'if-match': '"r2"' })).status).toBe(412);
    const stale = await restore(tenant, 'salesforce-eu', 1, writer(tenant), { 'if-match': '"r9"' });
    expect({ status: stale.status, code: stale.body.code }).toEqual({ status: 412, code: 'PRECONDITION_FAILED' });
    expect((await versions(tenant, 'salesforce-eu')).headers['x-total-count']).toBe('3');

    // The answer is a replace's, secrets masked for a token that may not see them.
    const restored = await restore(tenant, 'salesforce-eu', 1, writer(tenant), { 'if-match': '"r3"' });
    expect({ status: restored.status, etag: restored.headers.etag, body: restored.body }).toEqual({
      status: 200,
      etag: '"r4"',
      body: {
        id: 'salesforce-eu',
        type: 'salesforce',
        'consumer-key': 'ck-original',
        'consumer-secret': MASK,
        username: 'dev@example.com',
        password: MASK,
        'secret-token': MASK,
        instance: original.instance,
      },
    });
    const read = await t
      .http()
      .get(path(tenant, 'salesforce-eu'))
      .set(...revealer(tenant));
    expect(read.body).toEqual({ id: 'salesforce-eu', ...original });
    expect(read.headers.etag).toBe('"r4"');
    // The new version is the old one again, secrets included.
    const [v1, v4] = await Promise.all([
      version(tenant, 'salesforce-eu', 1, revealer(tenant)),
      version(tenant, 'salesforce-eu', 4, revealer(tenant)),
    ]);
    expect(v4.body.integration).toEqual(v1.body.integration);
    expect(v4.body).toMatchObject({ revision: 4, action: 'restore', 'restored-from': 1, actor: 'svc-a' });

    // A token that may reveal secrets sees them in the restore's answer; If-Match * matches a live integration.
    const again = await restore(
      tenant,
      'salesforce-eu',
      2,
      bearer(token({ scope: 'integrations:write integrations:secrets', tenants: [tenant] })),
      { 'if-match': '*' },
    );
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ id: 'salesforce-eu', ...original, username: 'ops@example.com', password: 'pw-new' });
  });

  it('brings a deleted integration back from one of its versions: 201, and it reads back exactly', async () => {
    const tenant = await createTenant(t, 'hist-del');
    expect((await post(tenant, 'sendgrid', { account: 'sg-user', password: 'sg-pw-1' })).status).toBe(201);
    expect((await patch(tenant, 'sendgrid', { password: 'sg-pw-2' })).status).toBe(200);
    expect((await post(tenant, 'twilio', { account: 'AC-other', password: 'pw-other' })).status).toBe(201);
    expect((await remove(tenant, 'sendgrid')).status).toBe(204);

    // Deleted as before: 404 with the same message, out of the list and its count, and deleting again is a 404.
    const gone = await t
      .http()
      .get(path(tenant, 'sendgrid'))
      .set(...reader(tenant));
    expect({ status: gone.status, error: gone.body.error }).toEqual({
      status: 404,
      error: `Integration 'sendgrid' does not exist in tenant '${tenant}'`,
    });
    const list = await t
      .http()
      .get(`/tenants/${tenant}/integrations`)
      .set(...reader(tenant));
    expect({ total: list.headers['x-total-count'], ids: list.body.map((i: { id: string }) => i.id) }).toEqual({
      total: '1',
      ids: ['twilio'],
    });
    expect((await remove(tenant, 'sendgrid')).status).toBe(404);
    expect((await patch(tenant, 'sendgrid', { account: 'x' })).status).toBe(404);
    expect(
      (
        await t
          .http()
          .post(path(tenant, 'sendgrid', '/verify'))
          .set(...writer(tenant))
      ).status,
    ).toBe(404);
    // If-Match treats the deleted integration as absent: even * does not match it.
    expect((await post(tenant, 'sendgrid', { account: 'x', password: 'y' }, writer(tenant), { 'if-match': '*' })).status).toBe(412);
    expect((await restore(tenant, 'sendgrid', 1, writer(tenant), { 'if-match': '*' })).status).toBe(412);
    expect((await restore(tenant, 'sendgrid', 1, writer(tenant), { 'if-match': '"r3"' })).status).toBe(412);

    // Its history is still there, the delete on top.
    const history = await versions(tenant, 'sendgrid');
    expect(history.body.map((v: { revision: number; action: string }) => [v.revision, v.action])).toEqual([
      [3, 'delete'],
      [2, 'patch'],
      [1, 'create'],
    ]);

    const back = await restore(tenant, 'sendgrid', 1);
    expect({ status: back.status, etag: back.headers.etag, body: back.body }).toEqual({
      status: 201,
      etag: '"r4"',
      body: { id: 'sendgrid', type: 'sendgrid', account: 'sg-user', password: MASK },
    });
    const read = await t
      .http()
      .get(path(tenant, 'sendgrid'))
      .set(...revealer(tenant));
    expect({ status: read.status, etag: read.headers.etag, body: read.body }).toEqual({
      status: 200,
      etag: '"r4"',
      body: { id: 'sendgrid', type: 'sendgrid', account: 'sg-user', password: 'sg-pw-1' },
    });
    expect(
      (
        await t
          .http()
          .get(`/tenants/${tenant}/integrations`)
          .set(...reader(tenant))
      ).headers['x-total-count'],
    ).toBe('2');
  });

  it('re-creating a deleted integration goes on from its revision, so version numbers never repeat', async () => {
    const tenant = await createTenant(t, 'hist-again');
    for (let round = 0; round < 3; round++) {
      const created = await post(tenant, 'datasift', { username: `u-${round}`, 'api-key': `key-${round}` });
      expect({ round, status: created.status, etag: created.headers.etag }).toEqual({ round, status: 201, etag: `"r${round * 2 + 1}"` });
      expect((await remove(tenant, 'datasift')).status).toBe(204);
    }
    const history = await versions(tenant, 'datasift', '', revealer(tenant));
    expect(history.body.map((v: { revision: number; action: string }) => `${v.revision} ${v.action}`)).toEqual([
      '6 delete',
      '5 create',
      '4 delete',
      '3 create',
      '2 delete',
      '1 create',
    ]);
    // Each create's version holds that create's secret.
    for (const [rev, round] of [
      [1, 0],
      [3, 1],
      [5, 2],
    ]) {
      const one = await version(tenant, 'datasift', rev, revealer(tenant));
      expect(one.body.integration).toEqual({ id: 'datasift', type: 'datasift', username: `u-${round}`, 'api-key': `key-${round}` });
    }
  });

  it('masks secrets in the list always, and in one version unless the token may reveal them', async () => {
    const tenant = await createTenant(t, 'hist-mask');
    expect((await post(tenant, 'pusher', { key: 'pk-1', secret: 'pusher-secret-1' })).status).toBe(201);
    expect((await remove(tenant, 'pusher')).status).toBe(204);

    for (const auth of [reader(tenant), revealer(tenant), admin]) {
      const list = await versions(tenant, 'pusher', '', auth);
      expect(list.status).toBe(200);
      expect(list.body[1].integration).toEqual({ id: 'pusher', type: 'pusher', key: 'pk-1', secret: MASK });
      expect(JSON.stringify(list.body)).not.toContain('pusher-secret-1');
    }
    const masked = await version(tenant, 'pusher', 1, reader(tenant));
    expect(masked.body.integration).toEqual({ id: 'pusher', type: 'pusher', key: 'pk-1', secret: MASK });
    const revealed = await version(tenant, 'pusher', 1, revealer(tenant));
    expect(revealed.body.integration).toEqual({ id: 'pusher', type: 'pusher', key: 'pk-1', secret: 'pusher-secret-1' });
    expect((await version(tenant, 'pusher', 1, admin)).body.integration.secret).toBe('pusher-secret-1');
    // A delete's version has nothing to show.
    const deleted = await version(tenant, 'pusher', 2, revealer(tenant));
    expect(deleted.body).toEqual({
      revision: 2,
      action: 'delete',
      actor: 'svc-a',
      'request-id': expect.any(String),
      'created-at': expect.stringMatching(ISO),
      'restored-from': null,
      deleted: true,
    });
  });

  it('keeps a verification that taught a field as a version of its own', async () => {
    const tenant = await createTenant(t, 'hist-verify');
    expect((await post(tenant, 'salesforce', { type: 'salesforce', ...fakes.good.salesforce })).status).toBe(201);
    const checked = await t
      .http()
      .post(path(tenant, 'salesforce', '/verify'))
      .set(...writer(tenant, 'verifier'));
    expect({ status: checked.status, result: checked.body.status }).toEqual({ status: 200, result: 'ok' });
    const history = await versions(tenant, 'salesforce');
    expect(history.body.map((v: { revision: number; action: string; actor: string }) => [v.revision, v.action, v.actor])).toEqual([
      [2, 'verify', 'verifier'],
      [1, 'create', 'svc-a'],
    ]);
    expect(history.body[0].integration.instance).toBe(FAKE_SALESFORCE_INSTANCE_URL);
    const current = await t
      .http()
      .get(path(tenant, 'salesforce'))
      .set(...revealer(tenant));
    expect(current.headers.etag).toBe('"r2"');
    expect((await version(tenant, 'salesforce', 2, revealer(tenant))).body.integration).toEqual(current.body);
    // A second check teaches nothing new: no new revision, no version.
    expect(
      (
        await t
          .http()
          .post(path(tenant, 'salesforce', '/verify'))
          .set(...writer(tenant))
      ).body.status,
    ).toBe('ok');
    expect((await versions(tenant, 'salesforce')).headers['x-total-count']).toBe('2');
  });

  it('answers 404, 409, 400 and 403 as documented', async () => {
    const tenant = await createTenant(t, 'hist-err');
    const other = await createTenant(t, 'hist-err');
    expect((await post(tenant, 'twilio', { account: 'AC-1', password: 'pw-1' })).status).toBe(201);
    expect((await remove(tenant, 'twilio')).status).toBe(204);

    const cases: [string, () => Promise<{ status: number; body: { code?: string; error?: string } }>, number, string][] = [
      ['unknown version', () => version(tenant, 'twilio', 7), 404, 'VERSION_NOT_FOUND'],
      ['restore unknown version', () => restore(tenant, 'twilio', 7), 404, 'VERSION_NOT_FOUND'],
      ["restore the delete's version", () => restore(tenant, 'twilio', 2), 409, 'NOTHING_TO_RESTORE'],
      ['versions of an integration never made', () => versions(tenant, 'sendgrid'), 404, 'INTEGRATION_NOT_FOUND'],
      ['a version of an integration never made', () => version(tenant, 'sendgrid', 1), 404, 'INTEGRATION_NOT_FOUND'],
      ['restore of an integration never made', () => restore(tenant, 'sendgrid', 1), 404, 'INTEGRATION_NOT_FOUND'],
      ['versions in a tenant that does not exist', () => versions('no-such-tenant', 'twilio', '', admin), 404, 'TENANT_NOT_FOUND'],
      ['restore in a tenant that does not exist', () => restore('no-such-tenant', 'twilio', 1, admin), 404, 'TENANT_NOT_FOUND'],
      ['rev not a number', () => version(tenant, 'twilio', 'latest'), 400, 'VALIDATION_FAILED'],
      ['rev 0', () => restore(tenant, 'twilio', 0), 400, 'VALIDATION_FAILED'],
      ['rev too large', () => version(tenant, 'twilio', '99999999999'), 400, 'VALIDATION_FAILED'],
      ['restore with a read-only token', () => restore(tenant, 'twilio', 1, reader(tenant)), 403, 'FORBIDDEN'],
      ["versions with another tenant's token", () => versions(tenant, 'twilio', '', reader(other)), 403, 'FORBIDDEN'],
      ["restore with another tenant's token", () => restore(tenant, 'twilio', 1, writer(other)), 403, 'FORBIDDEN'],
    ];
    const seen = [];
    for (const [name, run, status, code] of cases) {
      const answer = await run();
      seen.push({ name, status: answer.status, code: answer.body.code, error: typeof answer.body.error });
      expect(seen[seen.length - 1]).toEqual({ name, status, code, error: 'string' });
    }
    const message = await restore(tenant, 'twilio', 2);
    expect(message.body.error).toBe(
      "Version 2 of integration 'twilio' is its deletion and holds nothing to restore; restore an earlier version",
    );
    expect((await version(tenant, 'twilio', 7)).body.error).toBe(
      "Version 7 of integration 'twilio' does not exist (never made, or pruned)",
    );
    // Nothing of that changed the history.
    expect((await versions(tenant, 'twilio')).headers['x-total-count']).toBe('2');
  });
});
