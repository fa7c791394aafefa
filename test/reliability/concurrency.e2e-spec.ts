import { call as send, statusCounts as countStatuses, type Answer } from '../helpers/http-calls';
import { adminToken, createTenant, startTestApp, type TestApp } from '../helpers/test-app';

/**
 * Issue #5, concurrency: parallel writes of one integration end as one row with
 * one of the values sent, and optimistic concurrency (ETag / If-Match) lets
 * exactly one of many writers with the same version win. Real HTTP on
 * loopback, so the requests truly overlap.
 */
const PARALLEL = 50;

describe('Reliability: concurrency', () => {
  let t: TestApp;
  let url: string;
  const admin = `Bearer ${adminToken()}`;

  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> =>
    send(url, method, path, body, headers);
  const statusCounts = (answers: Answer[]): Record<number, number> => countStatuses(answers.map((a) => a.status));

  beforeAll(async () => {
    t = await startTestApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    url = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
  });
  afterAll(() => t.close());

  it(`${PARALLEL} parallel POSTs of one integration: one row, no 5xx, the value of one of them, decrypting cleanly`, async () => {
    const tenant = await createTenant(t, 'race');
    const sent = Array.from({ length: PARALLEL }, (_, i) => ({
      account: `AC-${i}`,
      password: `secret-${i}-${Math.random().toString(36).slice(2)}`,
    }));
    const answers = await Promise.all(sent.map((body) => call('POST', `/tenants/${tenant}/integrations/twilio`, body)));

    console.log(`${PARALLEL} parallel POSTs: ${JSON.stringify(statusCounts(answers))}`);
    expect(statusCounts(answers)).toEqual({ 201: 1, 200: PARALLEL - 1 });
    expect(new Set(answers.map((a) => a.etag)).size).toBe(PARALLEL);
    const rows = await t.db.query<{ id: string; revision: number | string }>('SELECT id, revision FROM integrations WHERE tenant_id = ?', [
      tenant,
    ]);
    expect(rows.map((r) => [r.id, Number(r.revision)])).toEqual([['twilio', PARALLEL]]);

    const stored = await call('GET', `/tenants/${tenant}/integrations/twilio`);
    expect(stored.status).toBe(200);
    expect(stored.etag).toBe(`"r${PARALLEL}"`);
    const index = sent.findIndex((s) => s.account === stored.body.account);
    expect(index).toBeGreaterThanOrEqual(0);
    // Account and password from the same request: no write was interleaved with another.
    expect(stored.body).toEqual({ id: 'twilio', type: 'twilio', ...sent[index] });
  });

  it(`${PARALLEL} parallel creates of different integrations of one tenant all succeed`, async () => {
    const tenant = await createTenant(t, 'many');
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) =>
        call('POST', `/tenants/${tenant}/integrations/sg-${i}`, { type: 'sendgrid', account: `u${i}`, password: `p${i}` }),
      ),
    );
    expect(statusCounts(answers)).toEqual({ 201: PARALLEL });
    const [{ count }] = await t.db.query<{ count: number | string }>('SELECT COUNT(*) AS count FROM integrations WHERE tenant_id = ?', [
      tenant,
    ]);
    expect(Number(count)).toBe(PARALLEL);
  });

  it('puts an ETag on every integration answer, and refuses a stale If-Match with 412 on PATCH, POST and DELETE', async () => {
    const tenant = await createTenant(t, 'etag');
    const path = `/tenants/${tenant}/integrations/twilio`;
    const created = await call('POST', path, { account: 'AC-1', password: 'p1' });
    expect(created.etag).toBe('"r1"');
    const read = await call('GET', path);
    expect(read.etag).toBe('"r1"');
    const list = await fetch(`${url}/tenants/${tenant}/integrations`, { headers: { authorization: admin } });
    expect(list.status).toBe(200);

    const updated = await call('PATCH', path, { account: 'AC-2' }, { 'if-match': read.etag! });
    expect({ status: updated.status, etag: updated.etag }).toEqual({ status: 200, etag: '"r2"' });

    const before = await t.db.query('SELECT * FROM integrations WHERE tenant_id = ?', [tenant]);
    for (const [method, body] of [
      ['PATCH', { account: 'AC-3' }],
      ['POST', { account: 'AC-3', password: 'p3' }],
      ['DELETE', undefined],
    ] as const) {
      const stale = await call(method, path, body, { 'if-match': '"r1"' });
      expect({ method, status: stale.status, error: typeof stale.body.error }).toEqual({ method, status: 412, error: 'string' });
    }
    // A create with If-Match of something that does not exist is stale too.
    expect(
      (await call('POST', `/tenants/${tenant}/integrations/sendgrid`, { account: 'u', password: 'p' }, { 'if-match': '"r1"' })).status,
    ).toBe(412);
    expect(await t.db.query('SELECT * FROM integrations WHERE tenant_id = ?', [tenant])).toEqual(before);

    expect((await call('PATCH', path, { account: 'AC-4' }, { 'if-match': '*' })).status).toBe(200);
    expect((await call('PATCH', path, { account: 'AC-5' }, { 'if-match': 'W/"r3"' })).status).toBe(200);
    expect((await call('DELETE', path, undefined, { 'if-match': '"r4"' })).status).toBe(204);
  });

  it(`${PARALLEL} parallel PATCHes with the same If-Match: exactly one 200, the rest 412`, async () => {
    const tenant = await createTenant(t, 'cas');
    const path = `/tenants/${tenant}/integrations/twilio`;
    const { etag } = await call('POST', path, { account: 'AC-0', password: 'p0' });
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) => call('PATCH', path, { account: `AC-${i + 1}` }, { 'if-match': etag! })),
    );
    console.log(`${PARALLEL} parallel PATCHes with one ETag: ${JSON.stringify(statusCounts(answers))}`);
    expect(statusCounts(answers)).toEqual({ 200: 1, 412: PARALLEL - 1 });
    const winner = answers.find((a) => a.status === 200)!;
    const stored = await call('GET', path);
    expect(stored.body.account).toBe(winner.body.account);
    expect(stored.etag).toBe('"r2"');
  });

  describe('with REQUIRE_IF_MATCH=true', () => {
    let strict: TestApp;
    beforeAll(async () => {
      strict = await startTestApp({ REQUIRE_IF_MATCH: 'true' });
    });
    afterAll(() => strict.close());

    it('answers 428 to a write of an existing integration without If-Match, and lets creates through', async () => {
      const tenant = await createTenant(strict, 'strict');
      const path = `/tenants/${tenant}/integrations/twilio`;
      const send = (method: 'POST' | 'PATCH' | 'DELETE', body: unknown, extra: Record<string, string> = {}) =>
        strict.app.inject({
          method,
          url: path,
          headers: { authorization: admin, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...extra },
          payload: body === undefined ? undefined : JSON.stringify(body),
        });

      const created = await send('POST', { account: 'AC-1', password: 'p1' });
      expect(created.statusCode).toBe(201);
      for (const [method, body] of [
        ['POST', { account: 'AC-2', password: 'p2' }],
        ['PATCH', { account: 'AC-2' }],
        ['DELETE', undefined],
      ] as const) {
        const response = await send(method, body);
        expect({ method, status: response.statusCode, error: typeof response.json<{ error?: unknown }>().error }).toEqual({
          method,
          status: 428,
          error: 'string',
        });
      }
      expect((await send('PATCH', { account: 'AC-2' }, { 'if-match': String(created.headers.etag) })).statusCode).toBe(200);
      expect((await send('DELETE', undefined, { 'if-match': '"r2"' })).statusCode).toBe(204);
    });
  });
});
