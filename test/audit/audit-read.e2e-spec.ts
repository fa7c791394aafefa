import type { AuditEventWire as Event } from '../../src/audit/audit.wire';
import { renameTenant } from '../helpers/audit';
import request from 'supertest';
import { AuditService } from '../../src/audit/audit.service';
import { systemActor } from '../../src/common/request-actor';
import { clientToken, createClient } from '../helpers/clients';
import { adminToken, bearer, createTenant, startTestApp, token, type TestApp } from '../helpers/test-app';

/**
 * GET /tenants/:iid/audit: who may read a trail, cursor pages and filters,
 * the NDJSON export, a deleted tenant's trail, and that no secret or token
 * ever shows in it.
 */
interface Page {
  events: Event[];
  'next-cursor': string | null;
}

const admin = bearer(adminToken());
const NDJSON = 'application/x-ndjson';

describe('Reading the audit trail', () => {
  let t: TestApp;
  let audit: AuditService;

  beforeAll(async () => {
    t = await startTestApp();
    audit = t.app.get(AuditService);
  });
  afterAll(() => t?.close());

  const get = (path: string, auth: [string, string] = admin) =>
    t
      .http()
      .get(path)
      .set(...auth);
  /** The NDJSON export, parsed (every line is also checked against the OpenAPI document). */
  const exportOf = async (
    path: string,
    auth: [string, string] = admin,
  ): Promise<{ status: number; type: string; text: string; events: Event[] }> => {
    const response = await t
      .http()
      .get(path)
      .set(...auth)
      .set('Accept', NDJSON)
      .buffer(true)
      .parse((res, done) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => done(null, text));
      });
    const text = response.body as string;
    const events =
      response.status === 200
        ? text
            .split('\n')
            .slice(0, -1)
            .map((line) => JSON.parse(line) as Event)
        : [];
    return { status: response.status, type: String(response.headers['content-type']), text, events };
  };

  /** A tenant whose trail is: created, then `renames` renames. */
  const tenantWithHistory = async (renames: number): Promise<string> => {
    const tenant = await createTenant(t, 'read');
    await renameTenant(t, tenant, 1, renames, 'Name ');
    return tenant;
  };

  it('pages with an opaque cursor that ends at the head the first page saw, each read itself an event', async () => {
    const tenant = await tenantWithHistory(6);
    const first = await get(`/tenants/${tenant}/audit?limit=3`);
    expect(first.status).toBe(200);
    const page1 = first.body as Page;
    expect(page1.events.map((e) => [e.seq, e.action])).toEqual([
      [1, 'tenant.create'],
      [2, 'tenant.update'],
      [3, 'tenant.update'],
    ]);
    expect(page1['next-cursor']).toMatch(/^[A-Za-z0-9_-]+$/);
    const page2 = (await get(`/tenants/${tenant}/audit?limit=3&cursor=${page1['next-cursor']}`)).body as Page;
    expect(page2.events.map((e) => e.seq)).toEqual([4, 5, 6]);
    const page3 = (await get(`/tenants/${tenant}/audit?limit=3&cursor=${page2['next-cursor']}`)).body as Page;
    // The first page's own read (seq 8) is in range; the later pages' reads (9, 10) are not: paging ends.
    expect(page3.events.map((e) => [e.seq, e.action, e.target])).toEqual([
      [7, 'tenant.update', tenant],
      [8, 'audit.read', 'page'],
    ]);
    expect(page3['next-cursor']).toBeNull();
    // Every event links to the one before it.
    const all = [...page1.events, ...page2.events, ...page3.events];
    all.slice(1).forEach((event, i) => expect(event['prev-hash']).toBe(all[i].hash));

    // The default page is 100 events; a fresh read now sees the later reads too.
    const fresh = (await get(`/tenants/${tenant}/audit`)).body as Page;
    expect(fresh.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(fresh['next-cursor']).toBeNull();
  });

  it('filters by action and by time', async () => {
    const tenant = await tenantWithHistory(3);
    const updates = (await get(`/tenants/${tenant}/audit?action=tenant.update`)).body as Page;
    expect(updates.events.map((e) => [e.seq, e.action])).toEqual([
      [2, 'tenant.update'],
      [3, 'tenant.update'],
      [4, 'tenant.update'],
    ]);
    const everything = ((await get(`/tenants/${tenant}/audit`)).body as Page).events;
    const since = everything[2].time;
    const later = ((await get(`/tenants/${tenant}/audit?since=${encodeURIComponent(since)}`)).body as Page).events;
    expect(later.length).toBeGreaterThan(0);
    expect(later.every((e) => e.time >= since)).toBe(true);
    expect(later[0].seq).toBe(everything.find((e) => e.time >= since)!.seq);
    expect(((await get(`/tenants/${tenant}/audit?since=2999-01-01T00:00:00Z`)).body as Page).events).toEqual([]);
    // Filters and pages together.
    const onePage = (await get(`/tenants/${tenant}/audit?action=tenant.update&limit=2`)).body as Page;
    expect(onePage.events.map((e) => e.seq)).toEqual([2, 3]);
    const next = (await get(`/tenants/${tenant}/audit?action=tenant.update&limit=2&cursor=${onePage['next-cursor']}`)).body as Page;
    expect(next.events.map((e) => e.seq)).toEqual([4]);
    expect(next['next-cursor']).toBeNull();
  });

  it('exports the whole filtered range as NDJSON, one event per line, in pages of the database (1,200 events)', async () => {
    const tenant = await createTenant(t, 'export');
    const actor = systemActor('bulk-writer');
    // Several hundred events at once: one statement per batch.
    for (let batch = 0; batch < 4; batch++) {
      await audit.recordAll(
        Array.from({ length: 300 }, (_v, i) => ({
          tenantId: tenant,
          actor,
          action: 'integration.update' as const,
          target: `int-${batch}-${i}`,
          outcome: 200,
        })),
      );
    }
    const exported = await exportOf(`/tenants/${tenant}/audit`);
    expect(exported.status).toBe(200);
    expect(exported.type).toBe('application/x-ndjson; charset=utf-8');
    expect(exported.text.endsWith('\n')).toBe(true);
    // tenant.create, 1,200 updates, and the export's own read.
    expect(exported.events.length).toBe(1202);
    expect(exported.events.map((e) => e.seq)).toEqual(exported.events.map((_e, i) => i + 1));
    expect(exported.events.at(-1)).toMatchObject({ action: 'audit.read', target: 'export' });
    exported.events.slice(1).forEach((event, i) => expect(event['prev-hash']).toBe(exported.events[i].hash));

    const filtered = await exportOf(`/tenants/${tenant}/audit?action=tenant.create`);
    expect(filtered.events.map((e) => [e.seq, e.action])).toEqual([[1, 'tenant.create']]);
    const capped = await exportOf(`/tenants/${tenant}/audit?limit=5&action=integration.update`);
    expect(capped.events.map((e) => e.target)).toEqual(['int-0-0', 'int-0-1', 'int-0-2', 'int-0-3', 'int-0-4']);
    // The JSON pages and the export say the same.
    const page = (await get(`/tenants/${tenant}/audit?limit=10`)).body as Page;
    expect(page.events).toEqual(exported.events.slice(0, 10));
  });

  it('lets platform admins and audit:read on the tenant read it; 403 for another tenant or without the scope; 404 for an id never used', async () => {
    const tenant = await createTenant(t, 'perm');
    const other = await createTenant(t, 'perm');
    const auditor = bearer(token({ sub: 'auditor-1', scope: 'audit:read', tenants: [tenant] }));
    expect((await get(`/tenants/${tenant}/audit`, auditor)).status).toBe(200);
    expect((await exportOf(`/tenants/${tenant}/audit`, auditor)).status).toBe(200);

    const foreign = await get(`/tenants/${other}/audit`, auditor);
    expect(foreign.status).toBe(403);
    expect(foreign.body).toMatchObject({ error: `This token may not access tenant '${other}'`, code: 'FORBIDDEN' });
    const reader = bearer(token({ scope: 'integrations:read integrations:secrets clients:write', tenants: [tenant] }));
    const noScope = await get(`/tenants/${tenant}/audit`, reader);
    expect(noScope.status).toBe(403);
    expect(noScope.body).toMatchObject({ error: "This token lacks the scope 'audit:read'", code: 'FORBIDDEN' });
    const noScopeExport = await exportOf(`/tenants/${tenant}/audit`, reader);
    expect(noScopeExport.status).toBe(403);

    // An API client can be given audit:read, for its own tenant only.
    const shipper = await createClient(t, tenant, 'audit:read');
    const shipperToken = bearer(await clientToken(t, shipper));
    expect((await get(`/tenants/${tenant}/audit`, shipperToken)).status).toBe(200);
    expect((await get(`/tenants/${other}/audit`, shipperToken)).status).toBe(403);
    const reads = ((await get(`/tenants/${tenant}/audit?action=audit.read`)).body as Page).events;
    expect(reads.map((e) => e.actor)).toEqual(['auditor-1', 'auditor-1', shipper.id, 'test-user']);

    const never = await get(`/tenants/${t.uniqueId('never')}/audit`);
    expect(never.status).toBe(404);
    expect(never.body.code).toBe('TENANT_NOT_FOUND');
    expect((await get('/tenants/bad%20id/audit')).status).toBe(400);
  });

  it('refuses a bad query with 400 in the usual error shape', async () => {
    const tenant = await createTenant(t, 'bad');
    const cases: [string, string, string][] = [
      ['since=yesterday', 'since', 'since must be an ISO 8601 date-time, like 2026-11-28T10:00:00Z'],
      ['action=tenant.explode', 'action', 'action must be one of'],
      ['limit=0', 'limit', 'limit must be an integer from 1 to 1000'],
      ['limit=1001', 'limit', 'limit must be an integer from 1 to 1000'],
      ['cursor=not-a-cursor', 'cursor', 'cursor must be a next-cursor this API returned'],
      ['offset=5', 'offset', 'property offset should not exist'],
      ['action=tenant.create&action=tenant.update', 'action', 'action must be given once'],
    ];
    for (const [query, field, message] of cases) {
      const response = await get(`/tenants/${tenant}/audit?${query}`);
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('VALIDATION_FAILED');
      expect(typeof response.body.error).toBe('string');
      expect(response.body.details).toEqual([{ field, message: expect.stringContaining(message) }]);
      // The same refusal with NDJSON asked for: the error is JSON.
      const ndjson = await t
        .http()
        .get(`/tenants/${tenant}/audit?${query}`)
        .set(...admin)
        .set('Accept', NDJSON);
      expect(ndjson.status).toBe(400);
      expect(ndjson.headers['content-type']).toMatch(/^application\/json/);
    }
  });

  it("keeps a deleted tenant's trail readable: by admins, and by audit:read tokens that list it", async () => {
    const tenant = await tenantWithHistory(1);
    expect(
      (
        await t
          .http()
          .delete(`/tenants/${tenant}`)
          .set(...admin)
      ).status,
    ).toBe(204);
    expect((await get(`/tenants/${tenant}`)).status).toBe(404);
    const page = (await get(`/tenants/${tenant}/audit`)).body as Page;
    expect(page.events.map((e) => e.action)).toEqual(['tenant.create', 'tenant.update', 'tenant.delete', 'audit.read']);
    const auditor = bearer(token({ scope: 'audit:read', tenants: [tenant] }));
    expect((await exportOf(`/tenants/${tenant}/audit`, auditor)).events.map((e) => e.action)).toEqual([
      'tenant.create',
      'tenant.update',
      'tenant.delete',
      'audit.read',
      'audit.read',
    ]);
    // Also under the original's /1.0 prefix.
    expect(
      (
        await request(t.app.getHttpServer())
          .get(`/1.0/tenants/${tenant}/audit`)
          .set(...admin)
      ).status,
    ).toBe(200);
  });

  it('never holds a secret or a token: canaries through every audited route stay out of rows, pages and exports', async () => {
    const tenant = await createTenant(t, 'canary');
    const canaries: string[] = [];
    const adminJwt = token({ sub: 'canary-admin', scope: 'platform:admin' });
    canaries.push(adminJwt);
    const auth: [string, string] = ['Authorization', `Bearer ${adminJwt}`];
    const secret = 'CANARY-integration-secret-5f1e';
    canaries.push(secret);
    expect(
      (
        await t
          .http()
          .post(`/tenants/${tenant}/integrations/twilio`)
          .set(...auth)
          .send({ account: 'AC1', password: secret })
      ).status,
    ).toBe(201);
    const created = await t
      .http()
      .post(`/tenants/${tenant}/api-clients`)
      .set(...auth)
      .send({ name: 'Canary', scope: 'audit:read' });
    canaries.push(created.body['client-secret'] as string);
    const clientId = created.body['client-id'] as string;
    const rotated = await t
      .http()
      .post(`/tenants/${tenant}/api-clients/${clientId}/secret`)
      .set(...auth);
    canaries.push(rotated.body['client-secret'] as string);
    const issued = await clientToken(t, { id: clientId, secret: rotated.body['client-secret'] as string });
    canaries.push(issued);
    expect((await get(`/tenants/${tenant}/audit`, ['Authorization', `Bearer ${issued}`])).status).toBe(200);
    await audit.recordSecretRead({ tenantId: tenant, actor: systemActor('reader'), targets: ['twilio'] });
    expect(
      (
        await t
          .http()
          .patch(`/tenants/${tenant}`)
          .set(...auth)
          .send({ name: 'Renamed' })
      ).status,
    ).toBe(200);
    expect(
      (
        await t
          .http()
          .delete(`/tenants/${tenant}/api-clients/${clientId}`)
          .set(...auth)
      ).status,
    ).toBe(204);

    const rows = JSON.stringify(await t.db.query('SELECT * FROM audit_events WHERE tenant_id = ?', [tenant]));
    const page = JSON.stringify((await get(`/tenants/${tenant}/audit`)).body);
    const exported = (await exportOf(`/tenants/${tenant}/audit`)).text;
    expect(JSON.parse(page).events.map((e: Event) => e.action)).toEqual([
      'tenant.create',
      'integration.create',
      'client.create',
      'client.rotate-secret',
      'audit.read',
      'integration.secret-read',
      'tenant.update',
      'client.delete',
      'audit.read',
    ]);
    for (const canary of canaries) {
      for (const [where, text] of Object.entries({ rows, page, exported })) {
        expect({ where, found: text.includes(canary) }).toEqual({ where, found: false });
        // Not even a recognisable piece of a token.
        if (canary.startsWith('eyJ'))
          expect({ where, found: text.includes(canary.split('.')[2].slice(0, 20)) }).toEqual({ where, found: false });
      }
    }
  });
});
