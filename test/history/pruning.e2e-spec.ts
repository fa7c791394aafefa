import { HistoryPruner } from '../../src/integrations/history/history-pruner';
import { VersionsService } from '../../src/integrations/history/versions.service';
import { adminToken, bearer, createTenant, startTestApp, type TestApp } from '../helpers/test-app';

/**
 * Pruning of kept versions: each integration keeps its newest
 * HISTORY_MAX_VERSIONS, and a deleted integration's history (with its
 * tombstone) goes HISTORY_RETENTION_DAYS after the delete, in the background.
 */
const admin = bearer(adminToken());
const DAY_MS = 86_400_000;

describe('Pruning kept versions', () => {
  let t: TestApp;
  let pruner: HistoryPruner;

  beforeAll(async () => {
    // A prune interval longer than the suite: every pass here is asked for.
    t = await startTestApp({ HISTORY_MAX_VERSIONS: '3', HISTORY_RETENTION_DAYS: '30', HISTORY_PRUNE_INTERVAL_MS: '3600000' });
    pruner = t.app.get(HistoryPruner);
    // Start from a clean slate: what other suites on a shared database left is walked by the first (full) pass, not here.
    await pruner.prune();
  });
  afterAll(() => t.close());

  const path = (tenant: string, id: string, rest = '') => `/tenants/${tenant}/integrations/${id}${rest}`;
  const write = async (tenant: string, id: string, n: number) => {
    const response = await t
      .http()
      .post(path(tenant, id))
      .set(...admin)
      .send({ type: 'twilio', account: `AC-${n}`, password: `pw-${n}` });
    expect(response.status).toBe(n === 1 ? 201 : 200);
  };
  const revisions = async (tenant: string, id: string): Promise<{ status: number; total?: string; revisions: number[] }> => {
    const response = await t
      .http()
      .get(path(tenant, id, '/versions?limit=1000'))
      .set(...admin);
    return {
      status: response.status,
      total: response.headers['x-total-count'],
      revisions: response.status === 200 ? response.body.map((v: { revision: number }) => v.revision) : [],
    };
  };

  it('keeps the newest HISTORY_MAX_VERSIONS of each integration; older ones are gone from the list and cannot be restored', async () => {
    const tenant = await createTenant(t, 'prune-keep');
    for (let n = 1; n <= 7; n++) await write(tenant, 'twilio', n);
    for (let n = 1; n <= 2; n++) await write(tenant, 'tw-short', n);
    expect(await revisions(tenant, 'twilio')).toEqual({ status: 200, total: '7', revisions: [7, 6, 5, 4, 3, 2, 1] });

    const summary = await pruner.prune();
    expect(summary.versions).toBeGreaterThanOrEqual(4);
    expect(await revisions(tenant, 'twilio')).toEqual({ status: 200, total: '3', revisions: [7, 6, 5] });
    expect(await revisions(tenant, 'tw-short')).toEqual({ status: 200, total: '2', revisions: [2, 1] });
    const pruned = await t
      .http()
      .post(path(tenant, 'twilio', '/versions/4/restore'))
      .set(...admin);
    expect({ status: pruned.status, code: pruned.body.code }).toEqual({ status: 404, code: 'VERSION_NOT_FOUND' });
    const kept = await t
      .http()
      .post(path(tenant, 'twilio', '/versions/5/restore'))
      .set(...admin);
    expect({ status: kept.status, etag: kept.headers.etag }).toEqual({ status: 200, etag: '"r8"' });
    expect(
      (
        await t
          .http()
          .get(path(tenant, 'twilio'))
          .set(...admin)
      ).body,
    ).toEqual({ id: 'twilio', type: 'twilio', account: 'AC-5', password: 'pw-5' });

    // Nothing left to do: a second pass deletes nothing more than the restore's overflow.
    await pruner.prune();
    expect(await revisions(tenant, 'twilio')).toEqual({ status: 200, total: '3', revisions: [8, 7, 6] });
  });

  it('a full pass also trims what this instance did not write (another instance, or one that stopped)', async () => {
    const tenant = await createTenant(t, 'prune-full');
    for (let n = 1; n <= 5; n++) await write(tenant, 'twilio', n);
    // Forget what this instance wrote, as if another instance had written it.
    t.app.get(VersionsService).takeWritten();
    await pruner.prune({ full: false });
    expect((await revisions(tenant, 'twilio')).total).toBe('5');
    await pruner.prune({ full: true });
    expect(await revisions(tenant, 'twilio')).toEqual({ status: 200, total: '3', revisions: [5, 4, 3] });
  });

  it('walks every integration in pages of keys: more than one page of them, each trimmed', async () => {
    const tenant = await createTenant(t, 'prune-many');
    // 1,050 integrations at revision 4 with versions 1-4, written straight to the tables (the API would take minutes).
    const ids = Array.from({ length: 1050 }, (_, i) => `tw-${String(i).padStart(4, '0')}`);
    const at = new Date().toISOString().replace('T', ' ').replace('Z', '');
    for (let start = 0; start < ids.length; start += 350) {
      const chunk = ids.slice(start, start + 350);
      await t.db.query(
        `INSERT INTO integrations (tenant_id, id, type, config, secrets, revision, created_at, updated_at) VALUES ${chunk.map(() => "(?, ?, 'twilio', '{}', '{}', 4, ?, ?)").join(', ')}`,
        chunk.flatMap((id) => [tenant, id, at, at]),
      );
      const versions = chunk.flatMap((id) => [1, 2, 3, 4].map((revision) => [tenant, id, revision, at]));
      await t.db.query(
        `INSERT INTO integration_versions (tenant_id, integration_id, revision, type, config, secrets, action, deleted, restored_from, actor_sub, request_id, created_at)
         VALUES ${versions.map(() => "(?, ?, ?, 'twilio', '{}', '{}', 'replace', 0, NULL, 'seed', NULL, ?)").join(', ')}`,
        versions.flat(),
      );
    }
    const summary = await pruner.prune({ full: true });
    expect(summary.versions).toBeGreaterThanOrEqual(1050);
    const [{ kept, oldest, integrations }] = await t.db.query<{
      kept: number | string;
      oldest: number | string;
      integrations: number | string;
    }>(
      'SELECT COUNT(*) AS kept, MIN(revision) AS oldest, COUNT(DISTINCT integration_id) AS integrations FROM integration_versions WHERE tenant_id = ?',
      [tenant],
    );
    expect({ kept: Number(kept), oldest: Number(oldest), integrations: Number(integrations) }).toEqual({
      kept: 1050 * 3,
      oldest: 2,
      integrations: 1050,
    });
  });

  it("removes a deleted integration's history HISTORY_RETENTION_DAYS after the delete, not before; a re-create then starts over", async () => {
    const tenant = await createTenant(t, 'prune-deleted');
    for (let n = 1; n <= 2; n++) await write(tenant, 'twilio', n);
    await write(tenant, 'tw-live', 1);
    expect(
      (
        await t
          .http()
          .delete(path(tenant, 'twilio'))
          .set(...admin)
      ).status,
    ).toBe(204);

    await pruner.prune({ now: new Date(Date.now() + 29 * DAY_MS) });
    expect(await revisions(tenant, 'twilio')).toEqual({ status: 200, total: '3', revisions: [3, 2, 1] });

    const summary = await pruner.prune({ now: new Date(Date.now() + 31 * DAY_MS) });
    expect(summary.integrations).toBeGreaterThanOrEqual(1);
    const gone = await t
      .http()
      .get(path(tenant, 'twilio', '/versions'))
      .set(...admin);
    expect({ status: gone.status, code: gone.body.code }).toEqual({ status: 404, code: 'INTEGRATION_NOT_FOUND' });
    expect(
      (
        await t
          .http()
          .post(path(tenant, 'twilio', '/versions/1/restore'))
          .set(...admin)
      ).status,
    ).toBe(404);
    expect(await t.db.query('SELECT id FROM integrations WHERE tenant_id = ? AND id = ?', [tenant, 'twilio'])).toEqual([]);
    expect(
      await t.db.query('SELECT revision FROM integration_versions WHERE tenant_id = ? AND integration_id = ?', [tenant, 'twilio']),
    ).toEqual([]);
    // A live integration is never a deleted one, however old.
    expect((await revisions(tenant, 'tw-live')).total).toBe('1');

    const again = await t
      .http()
      .post(path(tenant, 'twilio'))
      .set(...admin)
      .send({ account: 'AC-new', password: 'pw-new' });
    expect({ status: again.status, etag: again.headers.etag }).toEqual({ status: 201, etag: '"r1"' });
  });

  it('leaves a deleted integration alone once it was restored or re-created', async () => {
    const tenant = await createTenant(t, 'prune-back');
    await write(tenant, 'twilio', 1);
    expect(
      (
        await t
          .http()
          .delete(path(tenant, 'twilio'))
          .set(...admin)
      ).status,
    ).toBe(204);
    expect(
      (
        await t
          .http()
          .post(path(tenant, 'twilio', '/versions/1/restore'))
          .set(...admin)
      ).status,
    ).toBe(201);
    await pruner.prune({ now: new Date(Date.now() + 365 * DAY_MS) });
    expect(await revisions(tenant, 'twilio')).toEqual({ status: 200, total: '3', revisions: [3, 2, 1] });
    expect(
      (
        await t
          .http()
          .get(path(tenant, 'twilio'))
          .set(...admin)
      ).body,
    ).toEqual({ id: 'twilio', type: 'twilio', account: 'AC-1', password: 'pw-1' });
  });
});

describe('Pruning in the background', () => {
  it('runs every HISTORY_PRUNE_INTERVAL_MS by itself', async () => {
    const t = await startTestApp({ HISTORY_MAX_VERSIONS: '2', HISTORY_PRUNE_INTERVAL_MS: '200' });
    try {
      const tenant = await createTenant(t, 'prune-bg');
      for (let n = 1; n <= 5; n++) {
        const response = await t
          .http()
          .post(`/tenants/${tenant}/integrations/twilio`)
          .set(...admin)
          .send({ account: `AC-${n}`, password: `pw-${n}` });
        expect(response.status).toBe(n === 1 ? 201 : 200);
      }
      let total: string | undefined;
      for (const started = Date.now(); Date.now() - started < 15_000;) {
        total = (
          await t
            .http()
            .get(`/tenants/${tenant}/integrations/twilio/versions`)
            .set(...admin)
        ).headers['x-total-count'];
        if (total === '2') break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(total).toBe('2');
    } finally {
      await t.close();
    }
  });
});
