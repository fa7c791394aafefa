import type { BeforeQueryEvent, EntitySubscriberInterface } from 'typeorm';
import { AuditService } from '../../src/audit/audit.service';
import { systemActor } from '../../src/common/request-actor';
import { auditRows, auditVerify, renameTenant } from '../helpers/audit';
import { call, statusCounts } from '../helpers/http-calls';
import { adminToken, bearer, createTenant, startTestApp, type TestApp } from '../helpers/test-app';

/**
 * The chain itself: `audit:verify` finds a changed, removed or reordered row
 * and tells the retention prune from tampering; appends under concurrency
 * (many chains at once, one chain from many requests and from two instances)
 * never give a 5xx, a duplicate seq or a gap; a rolled-back change leaves no
 * event and no gap.
 */
const admin = bearer(adminToken());
const isMysql = (process.env.DATABASE_URL ?? '').startsWith('mysql') || (process.env.DATABASE_URL ?? '').startsWith('mariadb');

/** Every chain of these tenants is 1..n without a duplicate or a gap, each event linked to the one before. */
async function expectIntact(t: TestApp, tenants: string[]): Promise<number> {
  let events = 0;
  for (const tenant of tenants) {
    const rows = await auditRows(t, tenant);
    expect({ tenant, seqs: rows.map((r) => r.seq) }).toEqual({ tenant, seqs: rows.map((_r, i) => i + 1) });
    rows.slice(1).forEach((row, i) => expect(row.prev_hash).toBe(rows[i].hash));
    events += rows.length;
  }
  return events;
}

describe('The audit chain', () => {
  describe('audit:verify', () => {
    let t: TestApp;
    beforeAll(async () => {
      // A database of its own: the tampering below must not meet other suites' chains, nor theirs this one.
      t = await startTestApp({}, { ownDatabase: true });
    });
    afterAll(() => t?.close());

    const history = async (prefix: string, renames: number): Promise<string> => {
      const tenant = await createTenant(t, prefix);
      await renameTenant(t, tenant, 1, renames);
      return tenant;
    };

    it('exits 0 on intact chains, and names the first broken link of each chain where a row was changed, removed or two were swapped', async () => {
      const [edited, removed, swapped, intact] = [
        await history('edited', 4),
        await history('removed', 4),
        await history('swapped', 4),
        await history('intact', 4),
      ];
      const clean = await auditVerify(t);
      expect(clean.code).toBe(0);
      expect(clean.report).toMatchObject({ ok: true, problems: [] });
      expect(clean.report.events).toBeGreaterThanOrEqual(20);

      // An operator with database access: change who did it, drop an event, reorder two.
      await t.db.query("UPDATE audit_events SET actor_sub = 'someone-else' WHERE tenant_id = ? AND seq = 3", [edited]);
      await t.db.query('DELETE FROM audit_events WHERE tenant_id = ? AND seq = 2', [removed]);
      await t.db.query('UPDATE audit_events SET seq = 100 WHERE tenant_id = ? AND seq = 3', [swapped]);
      await t.db.query('UPDATE audit_events SET seq = 3 WHERE tenant_id = ? AND seq = 4', [swapped]);
      await t.db.query('UPDATE audit_events SET seq = 4 WHERE tenant_id = ? AND seq = 100', [swapped]);

      const broken = await auditVerify(t);
      expect(broken.code).toBe(2);
      expect(broken.report.ok).toBe(false);
      const problems = Object.fromEntries(broken.report.problems.map((p) => [p.tenant, p]));
      expect(Object.keys(problems).sort()).toEqual([edited, removed, swapped].sort());
      expect(problems[edited]).toMatchObject({
        seq: 3,
        problem: 'changed',
        message: 'seq 3 was changed: its hash does not match its fields',
      });
      expect(problems[removed]).toMatchObject({ seq: 2, problem: 'missing', message: 'seq 2 is missing after seq 1: events were removed' });
      expect(problems[swapped]).toMatchObject({ seq: 3, problem: 'broken-link' });
      expect(problems[swapped].message).toMatch(/^seq 3 does not link to seq 2 \(prev_hash differs\)/);

      // One chain at a time; a tenant with no trail is an error, not "intact".
      expect((await auditVerify(t, ['--tenant', intact])).code).toBe(0);
      const one = await auditVerify(t, ['--tenant', edited]);
      expect(one.code).toBe(2);
      expect(one.report.problems).toEqual([problems[edited]]);
      const unknown = await auditVerify(t, ['--tenant', 'no-such-tenant']);
      expect(unknown.code).toBe(1);
      expect(unknown.stdout).toContain("no audit trail for tenant 'no-such-tenant'");
    });

    it('after the retention prune, the first kept event links to the anchor: intact; a changed anchor or a removed first kept event is found', async () => {
      const audit = t.app.get(AuditService);
      const tenant = await history('pruned', 4);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await renameTenant(t, tenant, 5, 7);
      const before = await auditRows(t, tenant);
      expect(before.length).toBe(8);
      // Pretend a year has passed since the fifth event (AUDIT_RETENTION_DAYS=365), in batches of two per transaction.
      const fifth = new Date(before[4].occurred_at);
      const sixth = new Date(before[5].occurred_at);
      expect(sixth.getTime()).toBeGreaterThan(fifth.getTime());
      const pruned = await audit.pruneExpired(new Date(fifth.getTime() + 365 * 86_400_000 + 1), 2);
      expect(pruned.events).toBeGreaterThanOrEqual(5);
      const kept = await auditRows(t, tenant);
      expect(kept.map((r) => r.seq)).toEqual([6, 7, 8]);
      const [anchor] = await t.db.query<{ seq: number | string; hash: string }>(
        'SELECT seq, hash FROM audit_chain_anchors WHERE tenant_id = ?',
        [tenant],
      );
      expect(Number(anchor.seq)).toBe(5);
      expect(anchor.hash).toBe(before[4].hash);
      expect(kept[0].prev_hash).toBe(anchor.hash);
      expect((await auditVerify(t, ['--tenant', tenant])).code).toBe(0);

      // The chain goes on after a prune, and after a prune of every event (the anchor is then its head).
      expect(
        (
          await t
            .http()
            .patch(`/tenants/${tenant}`)
            .set(...admin)
            .send({ name: 'N8' })
        ).status,
      ).toBe(200);
      await audit.pruneExpired(new Date(Date.now() + 366 * 86_400_000));
      expect(await auditRows(t, tenant)).toEqual([]);
      expect(
        (
          await t
            .http()
            .patch(`/tenants/${tenant}`)
            .set(...admin)
            .send({ name: 'N9' })
        ).status,
      ).toBe(200);
      const after = await auditRows(t, tenant);
      expect(after.map((r) => [r.seq, r.action])).toEqual([[10, 'tenant.update']]);
      expect((await auditVerify(t, ['--tenant', tenant])).code).toBe(0);
      // The trail's reader still serves it (from seq 10 on).
      const page = await t
        .http()
        .get(`/tenants/${tenant}/audit`)
        .set(...admin);
      expect(page.body.events.map((e: { seq: number }) => e.seq)).toEqual([10, 11]);

      // Tampering with the anchor is found at the first kept event.
      const [{ hash: anchorHashAfterFullPrune }] = await t.db.query<{ hash: string }>(
        'SELECT hash FROM audit_chain_anchors WHERE tenant_id = ?',
        [tenant],
      );
      await t.db.query('UPDATE audit_chain_anchors SET hash = ? WHERE tenant_id = ?', ['f'.repeat(64), tenant]);
      const broken = await auditVerify(t, ['--tenant', tenant]);
      expect(broken.code).toBe(2);
      expect(broken.report.problems[0]).toMatchObject({ tenant, seq: 10, problem: 'broken-link' });
      expect(broken.report.problems[0].message).toContain('the anchor left by the retention prune (seq 9)');
      // … and so is the first kept event removed.
      await t.db.query('UPDATE audit_chain_anchors SET hash = ? WHERE tenant_id = ?', [anchorHashAfterFullPrune, tenant]);
      expect((await auditVerify(t, ['--tenant', tenant])).code).toBe(0);
      await t.db.query('DELETE FROM audit_events WHERE tenant_id = ? AND seq = 10', [tenant]);
      const removed = await auditVerify(t, ['--tenant', tenant]);
      expect(removed.code).toBe(2);
      expect(removed.report.problems[0]).toMatchObject({
        tenant,
        seq: 10,
        problem: 'missing',
        message: 'seq 10 is missing after the anchor left by the retention prune (seq 9): events were removed',
      });
    });
  });

  describe('appends under concurrency', () => {
    let t: TestApp;
    let base: string;
    beforeAll(async () => {
      t = await startTestApp();
      await t.app.listen(0, '127.0.0.1');
      base = await t.app.getUrl();
    });
    afterAll(() => t?.close());

    it('20 tenants created and renamed at once: no 5xx, each chain 1..n without a gap, and neighbouring chains never deadlock', async () => {
      const ids = Array.from({ length: 20 }, () => t.uniqueId('conc'));
      const created = await Promise.all(ids.map((id) => call(base, 'POST', '/tenants', { id, name: id })));
      expect(statusCounts(created.map((a) => a.status))).toEqual({ 201: 20 });
      const renames = await Promise.all(
        ids.flatMap((id) => Array.from({ length: 8 }, (_v, i) => call(base, 'PATCH', `/tenants/${id}`, { name: `${id}-${i}` }))),
      );
      expect(statusCounts(renames.map((a) => a.status))).toEqual({ 200: 160 });
      expect(await expectIntact(t, ids)).toBe(20 * 9);
    });

    it('one tenant, 60 requests and 100 direct appends at once: no error, no duplicate, no gap', async () => {
      const tenant = await createTenant(t, 'hot');
      const audit = t.app.get(AuditService);
      const [answers, appended] = await Promise.all([
        Promise.all(Array.from({ length: 60 }, (_v, i) => call(base, 'PATCH', `/tenants/${tenant}`, { name: `n${i}` }))),
        Promise.allSettled(
          Array.from({ length: 100 }, (_v, i) =>
            audit.record({
              tenantId: tenant,
              actor: systemActor('load'),
              action: 'integration.secret-read',
              target: `i${i}`,
              outcome: 200,
            }),
          ),
        ),
      ]);
      expect(statusCounts(answers.map((a) => a.status))).toEqual({ 200: 60 });
      expect(appended.filter((r) => r.status === 'rejected')).toEqual([]);
      expect(await expectIntact(t, [tenant])).toBe(161);
    });

    it('a change rolled back after its append leaves no event and no gap; the next append follows the last committed one', async () => {
      const tenant = await createTenant(t, 'rollback');
      const audit = t.app.get(AuditService);
      await expect(
        t.db.transaction(async (tx) => {
          await audit.record({ tenantId: tenant, actor: systemActor('doomed'), action: 'tenant.update', target: tenant, outcome: 200 }, tx);
          throw new Error('the change failed after its event');
        }),
      ).rejects.toThrow('the change failed after its event');
      await audit.record({ tenantId: tenant, actor: systemActor('next'), action: 'tenant.update', target: tenant, outcome: 200 });
      const rows = await auditRows(t, tenant);
      expect(rows.map((r) => [r.seq, r.actor_sub])).toEqual([
        [1, 'test-user'],
        [2, 'next'],
      ]);
      await expectIntact(t, [tenant]);
    });

    it('costs one statement per append once the head is known, inside a transaction or not; two for a chain not seen yet', async () => {
      const tenant = await createTenant(t, 'cost');
      const audit = t.app.get(AuditService);
      const statements: string[] = [];
      const counter: EntitySubscriberInterface = { beforeQuery: (event: BeforeQueryEvent<unknown>) => void statements.push(event.query) };
      const touchingAudit = () => statements.filter((sql) => /audit_(events|chain_anchors)/.test(sql));
      const event = (tenantId: string) => ({
        tenantId,
        actor: systemActor('meter'),
        action: 'integration.secret-read' as const,
        target: 'x',
        outcome: 200,
      });
      t.db.dataSource.subscribers.push(counter);
      try {
        const appends = 200;
        const started = performance.now();
        for (let i = 0; i < appends; i++) await audit.record(event(tenant));
        const perAppend = (performance.now() - started) / appends;
        expect(touchingAudit().length).toBe(appends);
        expect(touchingAudit().every((sql) => /^INSERT INTO/.test(sql))).toBe(true);

        statements.length = 0;
        await t.db.transaction((tx) => audit.record(event(tenant), tx));
        expect(touchingAudit().map((sql) => /^INSERT INTO .audit_events./.test(sql))).toEqual([true]);

        statements.length = 0;
        await audit.record(event(t.uniqueId('unseen')));
        expect(touchingAudit().map((sql) => sql.trim().split(/\s+/)[0])).toEqual(['SELECT', 'INSERT']);
        console.log(`audit append on ${t.db.engine}: ${perAppend.toFixed(2)} ms each, one statement (${appends} in a row on one chain)`);
      } finally {
        t.db.dataSource.subscribers.splice(t.db.dataSource.subscribers.indexOf(counter), 1);
      }
      await expectIntact(t, [tenant]);
    });

    // Two instances share a database only on a server engine: SQLite is one process's file.
    if (isMysql) {
      it('two instances appending to one chain and to 20 chains at once: no 5xx, no duplicate, no gap', async () => {
        const second = await startTestApp({
          DATABASE_URL: t.config.database.kind === 'mysql' ? t.config.database.url : '',
          MIGRATIONS_RUN: 'false',
        });
        try {
          await second.app.listen(0, '127.0.0.1');
          const otherBase = await second.app.getUrl();
          const tenant = await createTenant(t, 'two');
          const ids = Array.from({ length: 20 }, () => t.uniqueId('two-many'));
          expect(
            statusCounts(
              (await Promise.all(ids.map((id, i) => call(i % 2 ? base : otherBase, 'POST', '/tenants', { id, name: id })))).map(
                (a) => a.status,
              ),
            ),
          ).toEqual({
            201: 20,
          });
          const answers = await Promise.all([
            ...Array.from({ length: 80 }, (_v, i) => call(i % 2 ? base : otherBase, 'PATCH', `/tenants/${tenant}`, { name: `n${i}` })),
            ...ids.flatMap((id) =>
              Array.from({ length: 4 }, (_v, i) => call(i % 2 ? base : otherBase, 'PATCH', `/tenants/${id}`, { name: `${id}-${i}` })),
            ),
          ]);
          expect(statusCounts(answers.map((a) => a.status))).toEqual({ 200: 160 });
          expect(await expectIntact(t, [tenant])).toBe(81);
          expect(await expectIntact(t, ids)).toBe(20 * 5);
        } finally {
          await second.close();
        }
      });
    }
  });
});
