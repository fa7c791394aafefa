import { type FakeVendors, startFakeVendors } from '../fakes/fake-vendors';
import { isMysqlUrl } from '../helpers/child-app';
import { adminToken, bearer, createTenant, startTestApp, token, type TestApp } from '../helpers/test-app';

/**
 * Issue 15, scheduled re-verification: the service re-checks stored
 * credentials on its own against the (loopback) fake vendors, every
 * VERIFY_INTERVAL (2 s here) or the tenant's verify-interval; a vendor in
 * trouble is backed off and never marks credentials failed; instances share
 * the work through leases in the database.
 */
const INTERVAL_S = 2;
const SCHEDULE_ENV = {
  VERIFY_INTERVAL: `${INTERVAL_S}s`,
  VERIFY_TICK_MS: '200',
  VERIFY_TIMEOUT_MS: '1000',
  VERIFY_LEASE: '3s',
};
/** What a busy 2-core CI machine needs beyond the interval for a tick, a vendor call and the database. */
const MARGIN_MS = 2500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `read` until `done` says yes or `ms` pass; returns the last value read. */
async function until<T>(ms: number, read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await sleep(100);
  }
}

/** As the database stores datetimes (both engines read this form). */
const dbTime = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

describe('Scheduled re-verification', () => {
  let fakes: FakeVendors;
  let t: TestApp;
  const admin = bearer(adminToken());
  const writer = (tenant: string) => bearer(token({ scope: 'integrations:read integrations:write', tenants: [tenant] }));
  const path = (tenant: string, id: string, rest = '') => `/tenants/${tenant}/integrations/${id}${rest}`;
  const save = (app: TestApp, tenant: string, id: string, body: object) =>
    app.http().post(path(tenant, id)).set(...writer(tenant)).send(body);
  const state = (app: TestApp, tenant: string, id: string) => app.http().get(path(tenant, id, '/verification')).set(...writer(tenant));
  const history = (app: TestApp, tenant: string, id: string) =>
    app.http().get(path(tenant, id, '/verification/history')).set(...writer(tenant));
  const calls = (identity: string) => fakes.callsBy.get(identity) ?? [];

  beforeAll(async () => {
    fakes = await startFakeVendors();
    t = await startTestApp({ ...fakes.env, ...SCHEDULE_ENV });
  });
  afterAll(async () => {
    await t?.close();
    await fakes?.close();
  });

  it('finds a credential broken at the vendor within one interval, and its recovery after the fix, with history', async () => {
    const tenant = await createTenant(t, 'sched-twilio');
    const good = { ...fakes.good.twilio };
    expect((await save(t, tenant, 'twilio', { type: 'twilio', ...good })).status).toBe(201);

    // A new integration is due at once: the first scheduled check comes within a tick or two.
    const first = await until(MARGIN_MS, () => state(t, tenant, 'twilio'), (r) => r.status === 200);
    expect(first.status).toBe(200);
    expect(first.body.status).toBe('ok');
    const next = Date.parse(first.body['next-check-at']) - Date.parse(first.body['checked-at']);
    // The interval less up to 10 % jitter (VERIFY_JITTER's default).
    expect(next).toBeGreaterThanOrEqual(INTERVAL_S * 900);
    expect(next).toBeLessThanOrEqual(INTERVAL_S * 1000);

    try {
      fakes.good.twilio.password = 'rotated-at-the-vendor-0000000000';
      const broken = Date.now();
      const failed = await until(INTERVAL_S * 1000 + MARGIN_MS, () => state(t, tenant, 'twilio'), (r) => r.body.status === 'failed');
      expect(failed.body.status).toBe('failed');
      expect(failed.body.message).toBe('Twilio rejected the credentials: Authenticate (code 20003), HTTP 401');
      expect(Date.now() - broken).toBeLessThanOrEqual(INTERVAL_S * 1000 + MARGIN_MS);
    } finally {
      fakes.good.twilio.password = good.password;
    }
    const recovered = await until(INTERVAL_S * 1000 + MARGIN_MS, () => state(t, tenant, 'twilio'), (r) => r.body.status === 'ok');
    expect(recovered.body.status).toBe('ok');

    const listed = await history(t, tenant, 'twilio');
    expect(listed.status).toBe(200);
    const statuses = listed.body.map((entry: { status: string }) => entry.status);
    // Newest first: the recovery, the failure (possibly seen twice), the first success.
    expect(statuses[0]).toBe('ok');
    expect(statuses).toContain('failed');
    expect(statuses[statuses.length - 1]).toBe('ok');
    expect(statuses.indexOf('failed')).toBeLessThan(statuses.lastIndexOf('ok'));
    for (const entry of listed.body) {
      expect(entry).toEqual({ status: expect.any(String), message: expect.any(String), 'checked-at': expect.any(String), revision: 1, trigger: 'scheduled' });
    }
    const times = listed.body.map((entry: { 'checked-at': string }) => Date.parse(entry['checked-at']));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    // No secret in what a reader sees.
    expect(JSON.stringify(listed.body)).not.toContain(good.password);

    // The checks are the scheduler's, in the audit trail like manual ones.
    const audit = await t.db.query<{ actor_sub: string; outcome: number }>(
      "SELECT actor_sub, outcome FROM audit_events WHERE tenant_id = ? AND action = 'integration.verify'",
      [tenant],
    );
    expect(audit.length).toBeGreaterThanOrEqual(3);
    expect(new Set(audit.map((row) => row.actor_sub))).toEqual(new Set(['system:scheduler']));
    expect(audit.some((row) => Number(row.outcome) === 422)).toBe(true);
  });

  it('keeps the last 10 results, a manual check among them', async () => {
    const tenant = await createTenant(t, 'sched-keep');
    const account = `AC${tenant.replace(/[^a-z0-9]/g, '')}`.slice(0, 34);
    expect((await save(t, tenant, 'twilio', { type: 'twilio', account, password: 'wrong-password' })).status).toBe(201);
    expect((await t.http().post(path(tenant, 'twilio', '/verify')).set(...writer(tenant))).status).toBe(200);
    // Manual check first; then the scheduler, every 2 s: 10 kept long before 13 are made, so wait for a full list and one more.
    await until(30_000, () => history(t, tenant, 'twilio'), (r) => r.body.length === 10);
    const seen = calls(account).length;
    await until(INTERVAL_S * 1000 + MARGIN_MS, async () => calls(account).length, (n) => n > seen);
    await sleep(300);
    const listed = await history(t, tenant, 'twilio');
    expect(listed.body).toHaveLength(10);
    expect(listed.body.every((entry: { trigger: string }) => entry.trigger === 'scheduled')).toBe(true);
    const rows = await t.db.query<{ n: number }>('SELECT COUNT(*) AS n FROM verification_results WHERE tenant_id = ?', [tenant]);
    expect(Number(rows[0].n)).toBe(10);
  }, 60_000);

  it("follows the tenant's verify-interval over the service's, and reschedules when it changes", async () => {
    const off = await createTenant(t, 'sched-off');
    const slow = await createTenant(t, 'sched-slow');
    expect((await t.http().patch(`/tenants/${off}`).set(...admin).send({ 'verify-interval': '0' })).body['verify-interval']).toBe('0');
    const patched = await t.http().patch(`/tenants/${slow}`).set(...admin).send({ 'verify-interval': '1h' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id: slow, name: `Tenant ${slow}`, 'verify-interval': '1h' });

    const offAccount = `ACoff${off.replace(/[^a-z0-9]/g, '')}`;
    const slowAccount = `ACslow${slow.replace(/[^a-z0-9]/g, '')}`;
    expect((await save(t, off, 'twilio', { type: 'twilio', account: offAccount, password: 'pw' })).status).toBe(201);
    expect((await save(t, slow, 'twilio', { type: 'twilio', account: slowAccount, password: 'pw' })).status).toBe(201);

    await until(MARGIN_MS, async () => calls(slowAccount).length, (n) => n > 0);
    await sleep(INTERVAL_S * 1000 + 1000);
    // Off: never checked. An hour: checked once (it was new), not again at the service's 2 s.
    expect(calls(offAccount)).toHaveLength(0);
    expect(calls(slowAccount)).toHaveLength(1);
    expect((await state(t, off, 'twilio')).status).toBe(404);
    const slowState = await state(t, slow, 'twilio');
    const due = Date.parse(slowState.body['next-check-at']) - Date.parse(slowState.body['checked-at']);
    expect(due).toBeGreaterThanOrEqual(3240_000);
    expect(due).toBeLessThanOrEqual(3600_000);

    // Back to the service default: rescheduled at once, and checked every 2 s again.
    const reset = await t.http().patch(`/tenants/${slow}`).set(...admin).send({ 'verify-interval': null });
    expect(reset.body['verify-interval']).toBeNull();
    expect((await t.http().get(`/tenants/${slow}`).set(...admin)).body['verify-interval']).toBeNull();
    await until(INTERVAL_S * 1000 + MARGIN_MS, async () => calls(slowAccount).length, (n) => n >= 2);
    expect(calls(slowAccount).length).toBeGreaterThanOrEqual(2);
    // Once that check is recorded (until then its claim shows), the next is due within the service's 2 s.
    const after = await until(MARGIN_MS, () => state(t, slow, 'twilio'), (r) => r.body['checked-at'] !== slowState.body['checked-at']);
    expect(after.body['checked-at']).not.toBe(slowState.body['checked-at']);
    expect(Date.parse(after.body['next-check-at']) - Date.parse(after.body['checked-at'])).toBeLessThanOrEqual(INTERVAL_S * 1000);

    // Turned on for the tenant that was off: picked up.
    await t.http().patch(`/tenants/${off}`).set(...admin).send({ 'verify-interval': '1s' });
    await until(MARGIN_MS + 1000, async () => calls(offAccount).length, (n) => n > 0);
    expect(calls(offAccount).length).toBeGreaterThan(0);
  });

  it('validates the PATCH: name and verify-interval both optional, at least one, and a real duration', async () => {
    const tenant = await createTenant(t, 'sched-patch');
    const patch = (body: object) => t.http().patch(`/tenants/${tenant}`).set(...admin).send(body);
    const empty = await patch({});
    expect(empty.status).toBe(400);
    expect(empty.body.error).toBe('Send at least one of name and verify-interval');
    for (const bad of ['weekly', '6 h', '-1h', '1.5h', 6]) {
      const response = await patch({ 'verify-interval': bad });
      expect(response.status).toBe(400);
      expect(JSON.stringify(response.body)).toContain('verify-interval must be a duration like');
    }
    // null clears the interval, but a name cannot be cleared: a 400, never a 5xx.
    for (const name of [null, '', 7]) {
      const response = await patch({ name });
      expect(response.status).toBe(400);
      expect(response.body.details).toEqual([{ field: 'name', message: expect.any(String) }]);
    }
    const tooLong = await patch({ 'verify-interval': '400d' });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error).toContain('at most 366d');
    const renamed = await patch({ name: 'Renamed only' });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'Renamed only', 'verify-interval': null });
    const both = await patch({ name: 'Both', 'verify-interval': '90m' });
    expect(both.body).toMatchObject({ name: 'Both', 'verify-interval': '90m' });
    const events = await t.db.query<{ n: number }>("SELECT COUNT(*) AS n FROM audit_events WHERE tenant_id = ? AND action = 'tenant.update'", [tenant]);
    expect(Number(events[0].n)).toBe(2);
  });

  it('backs off a vendor answering 429 or 503 and does not mark the credentials failed', async () => {
    const tenant = await createTenant(t, 'sched-busy');
    expect((await save(t, tenant, 'sendgrid', { type: 'sendgrid', ...fakes.good.sendgrid })).status).toBe(201);
    const ok = await until(MARGIN_MS, () => state(t, tenant, 'sendgrid'), (r) => r.status === 200);
    expect(ok.body.status).toBe('ok');
    const identity = fakes.good.sendgrid.account;

    try {
      fakes.forced.sendgrid = { status: 429, body: { errors: [{ message: 'too many requests' }] }, headers: { 'retry-after': '3' } };
      const before = calls(identity).length;
      await sleep(INTERVAL_S * 1000 + 3500);
      // Due after ~2 s, one 429, then 3 s of Retry-After: at most two calls in 5.5 s, where a 200 ms tick without backoff would make ~25.
      const during429 = calls(identity).length - before;
      expect(during429).toBeGreaterThanOrEqual(1);
      expect(during429).toBeLessThanOrEqual(2);

      fakes.forced.sendgrid = { status: 503, body: 'Service Unavailable' };
      const before503 = calls(identity).length;
      await sleep(5000);
      // No Retry-After: 1 s, 2 s, 4 s … after each 503, so at most 3 calls in 5 s.
      const during503 = calls(identity).length - before503;
      expect(during503).toBeGreaterThanOrEqual(1);
      expect(during503).toBeLessThanOrEqual(3);

      const kept = await state(t, tenant, 'sendgrid');
      expect(kept.body.status).toBe('ok');
      expect(kept.body['checked-at']).toBe(ok.body['checked-at']);
      expect((await history(t, tenant, 'sendgrid')).body.every((entry: { status: string }) => entry.status === 'ok')).toBe(true);
    } finally {
      delete fakes.forced.sendgrid;
    }
    // The vendor back: checked again (after at most the last pause, 4 s) and still ok.
    const again = await until(4000 + MARGIN_MS, () => state(t, tenant, 'sendgrid'), (r) => r.body['checked-at'] !== ok.body['checked-at']);
    expect(again.body.status).toBe('ok');
    expect(again.body['checked-at']).not.toBe(ok.body['checked-at']);
  }, 60_000);

  it('picks up an integration whose claim was left by an instance that died, once the lease ends', async () => {
    const tenant = await createTenant(t, 'sched-lease');
    // An hour, so that nothing but the dead claim brings it up during the test.
    await t.http().patch(`/tenants/${tenant}`).set(...admin).send({ 'verify-interval': '1h' });
    const account = `ACdead${tenant.replace(/[^a-z0-9]/g, '')}`;
    expect((await save(t, tenant, 'twilio', { type: 'twilio', account, password: 'pw' })).status).toBe(201);
    expect((await until(MARGIN_MS, () => state(t, tenant, 'twilio'), (r) => r.status === 200)).status).toBe(200);
    // What an instance killed mid-check leaves: a last check older than the interval, and its claim (due and
    // leased until the lease's end, 3 s from now) that nobody will complete.
    const leaseEnd = Date.now() + 3000;
    await t.db.query('UPDATE integrations SET verified_at = ?, check_due_at = ?, check_lease_until = ? WHERE tenant_id = ? AND id = ?', [
      dbTime(Date.now() - 2 * 3600_000),
      dbTime(leaseEnd),
      dbTime(leaseEnd),
      tenant,
      'twilio',
    ]);
    const before = calls(account).length;
    await until(3000 + MARGIN_MS, async () => calls(account).length, (n) => n > before);
    const picked = calls(account).slice(before);
    expect(picked.length).toBeGreaterThan(0);
    // Not while the dead instance's lease held, but soon after it ended.
    expect(picked[0]).toBeGreaterThanOrEqual(leaseEnd);
    expect(picked[0] - leaseEnd).toBeLessThanOrEqual(MARGIN_MS);
    const after = await until(MARGIN_MS, () => state(t, tenant, 'twilio'), (r) => Date.parse(r.body['checked-at']) >= leaseEnd);
    expect(Date.parse(after.body['next-check-at']) - Date.parse(after.body['checked-at'])).toBeGreaterThan(3000_000);
  });

  // Several instances need one shared database: MariaDB/MySQL (DATABASE_URL); SQLite's is one file per app here.
  if (isMysqlUrl(process.env.DATABASE_URL)) {
    it('checks each due integration exactly once per interval with two instances on one database', async () => {
      const second = await startTestApp({ ...fakes.env, ...SCHEDULE_ENV, VERIFY_CONCURRENCY: '2' });
      try {
        const tenant = await createTenant(t, 'sched-two');
        const accounts = Array.from({ length: 12 }, (_, i) => `ACtwo${i}x${tenant.replace(/[^a-z0-9]/g, '')}`);
        for (const [i, account] of accounts.entries()) {
          expect((await save(i % 2 ? second : t, tenant, `twilio-${i}`, { type: 'twilio', account, password: 'pw' })).status).toBe(201);
        }
        await sleep(3 * INTERVAL_S * 1000 + 1000);
        for (const account of accounts) {
          const times = calls(account);
          // Checked every interval (3 windows of 2 s: at least twice) …
          expect(times.length).toBeGreaterThanOrEqual(2);
          // … and never twice in one: consecutive checks at least the jittered interval apart (less a tick's slack).
          for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(INTERVAL_S * 900 - 250);
        }
      } finally {
        await second.close();
      }
    }, 60_000);
  }
});
