import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebhookEventSink, type WebhookEvent } from '../../src/webhooks/webhook-events';
import { WebhookReceiver, waitFor } from '../helpers/webhook-receiver';
import { adminToken, bearer, createTenant, startTestApp, token, type TestApp } from '../helpers/test-app';

/** Short beats for tests: a 100 ms tick, retries from 100 ms. */
const FAST = {
  WEBHOOK_ALLOW_PRIVATE: 'true',
  WEBHOOK_TICK_MS: '100',
  WEBHOOK_RETRY_BASE_MS: '100',
  WEBHOOK_TIMEOUT_MS: '2000',
  WEBHOOK_LEASE_MS: '3000',
};

const event = (tenantId: string, integration = 'twilio'): WebhookEvent => ({
  tenantId,
  type: 'integration.verification.failed',
  data: { tenant: tenantId, integration, 'integration-type': 'twilio', revision: 3, status: 'failed', message: 'Authenticate' },
  at: new Date(),
});

async function emit(t: TestApp, e: WebhookEvent, rollback = false): Promise<void> {
  const sink = t.app.get(WebhookEventSink);
  await t.db
    .transaction(async (tx) => {
      await sink.emit(e, tx);
      if (rollback) throw new Error('rolled back on purpose');
    })
    .catch((error: Error) => {
      if (!rollback) throw error;
    });
}

describe('Webhooks (issue 15)', () => {
  let t: TestApp;
  let receiver: WebhookReceiver;
  const admin = bearer(adminToken());

  beforeAll(async () => {
    t = await startTestApp(FAST);
    receiver = await new WebhookReceiver().start();
  });

  afterAll(async () => {
    await receiver.stop();
    await t.close();
  });

  beforeEach(() => {
    receiver.received.length = 0;
    receiver.status = 200;
  });

  const create = async (tenant: string, body: Record<string, unknown> = {}) =>
    t
      .http()
      .post(`/tenants/${tenant}/webhooks`)
      .set(...admin)
      .send({ url: receiver.url, events: ['integration.verification.failed', 'integration.created'], description: 'pager', ...body });

  it('registers an endpoint, shows its secret once, and never again (GET, list, audit)', async () => {
    const tenant = await createTenant(t);
    const created = await create(tenant);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^wh-[0-9a-f]{24}$/),
      url: receiver.url,
      events: ['integration.created', 'integration.verification.failed'],
      description: 'pager',
      enabled: true,
      'disabled-reason': null,
      'failing-since': null,
      'previous-secret-expires-at': null,
      'created-at': expect.any(String),
      'updated-at': expect.any(String),
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
    });
    const { id, secret } = created.body as { id: string; secret: string };
    const one = await t
      .http()
      .get(`/tenants/${tenant}/webhooks/${id}`)
      .set(...admin);
    expect(one.status).toBe(200);
    expect(one.body).not.toHaveProperty('secret');
    const list = await t
      .http()
      .get(`/tenants/${tenant}/webhooks`)
      .set(...admin);
    expect(list.status).toBe(200);
    expect(list.headers['x-total-count']).toBe('1');
    expect(list.body).toEqual([one.body]);
    const audit = await t.db.query<Record<string, unknown>>('SELECT * FROM audit_events WHERE tenant_id = ?', [tenant]);
    expect(audit.map((row) => row.action)).toContain('webhook.create');
    expect(audit.find((row) => row.action === 'webhook.create')?.target).toBe(id);
    const stored = await t.db.query<{ secret: string }>('SELECT secret FROM webhooks WHERE tenant_id = ?', [tenant]);
    for (const text of [JSON.stringify(one.body), JSON.stringify(list.body), JSON.stringify(audit), stored[0].secret]) {
      expect(text.includes(secret.slice(6))).toBe(false);
    }
  });

  it('refuses bad input with 400 and the field: scheme, credentials, events, unknown fields', async () => {
    const tenant = await createTenant(t);
    const cases: [Record<string, unknown>, string][] = [
      [{ url: 'ftp://hooks.example.com/x' }, 'url'],
      [{ url: 'https://user:pass@hooks.example.com/x' }, 'url'],
      [{ url: 'not a url' }, 'url'],
      [{ events: [] }, 'events'],
      [{ events: ['integration.exploded'] }, 'events'],
      [{ secret: 'whsec_mine' }, 'secret'],
    ];
    for (const [body, field] of cases) {
      const response = await create(tenant, body);
      expect({ body, status: response.status }).toEqual({ body, status: 400 });
      expect((response.body as { details: { field: string }[] }).details.map((d) => d.field)).toContain(field);
      expect(JSON.stringify(response.body)).not.toContain('pass@');
    }
    expect(
      (
        await t
          .http()
          .get(`/tenants/${tenant}/webhooks`)
          .set(...admin)
      ).headers['x-total-count'],
    ).toBe('0');
  });

  it('asks webhooks:write to manage and webhooks:read (or write) to read', async () => {
    const tenant = await createTenant(t);
    const { id } = (await create(tenant)).body as { id: string };
    const reader = bearer(token({ scope: 'webhooks:read', tenants: [tenant] }));
    const writer = bearer(token({ scope: 'webhooks:write', tenants: [tenant] }));
    expect(
      (
        await t
          .http()
          .get(`/tenants/${tenant}/webhooks/${id}`)
          .set(...reader)
      ).status,
    ).toBe(200);
    expect(
      (
        await t
          .http()
          .get(`/tenants/${tenant}/webhooks/${id}/deliveries`)
          .set(...writer)
      ).status,
    ).toBe(200);
    const refused = await t
      .http()
      .patch(`/tenants/${tenant}/webhooks/${id}`)
      .set(...reader)
      .send({ description: 'x' });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe("This token lacks the scope 'webhooks:write'");
    expect(
      (
        await t
          .http()
          .get(`/tenants/${tenant}/webhooks`)
          .set(...bearer(token({ scope: 'integrations:read', tenants: [tenant] })))
      ).status,
    ).toBe(403);
  });

  it('PATCHes, deletes (204, then 404) and audits both', async () => {
    const tenant = await createTenant(t);
    const { id } = (await create(tenant)).body as { id: string };
    const patched = await t
      .http()
      .patch(`/tenants/${tenant}/webhooks/${id}`)
      .set(...admin)
      .send({ events: ['tenant.keys.rotated'], description: 'keys' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ events: ['tenant.keys.rotated'], description: 'keys' });
    expect(
      (
        await t
          .http()
          .delete(`/tenants/${tenant}/webhooks/${id}`)
          .set(...admin)
      ).status,
    ).toBe(204);
    const gone = await t
      .http()
      .get(`/tenants/${tenant}/webhooks/${id}`)
      .set(...admin);
    expect(gone.status).toBe(404);
    expect(gone.body.error).toBe(`Webhook '${id}' does not exist in tenant '${tenant}'`);
    const actions = (await t.db.query<{ action: string }>('SELECT action FROM audit_events WHERE tenant_id = ?', [tenant])).map(
      (r) => r.action,
    );
    expect(actions).toEqual(expect.arrayContaining(['webhook.create', 'webhook.update', 'webhook.delete']));
  });

  it('delivers an event emitted in a committed transaction once, signed; a rolled-back one never', async () => {
    const tenant = await createTenant(t);
    const { secret } = (await create(tenant)).body as { secret: string };
    await create(tenant, { events: ['tenant.keys.rotated'] }); // not subscribed: gets nothing
    await emit(t, event(tenant, 'rolled-back'), true);
    await emit(t, event(tenant));
    await waitFor(() => receiver.received.length >= 1, 8000, 'the delivery');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.received).toHaveLength(1);
    const [request] = receiver.received;
    expect(WebhookReceiver.verify(secret, request)).toEqual({
      type: 'integration.verification.failed',
      timestamp: expect.any(String),
      data: expect.objectContaining({ tenant, integration: 'twilio', status: 'failed' }),
    });
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['webhook-id']).toMatch(/^evt_[0-9a-f]{24}$/);
  });

  it('retries while the receiver fails, and then delivers every event exactly once by webhook-id', async () => {
    const tenant = await createTenant(t);
    const { id, secret } = (await create(tenant)).body as { id: string; secret: string };
    receiver.status = 500;
    for (let i = 0; i < 3; i++) await emit(t, event(tenant, `i-${i}`));
    await waitFor(() => receiver.received.length >= 6, 8000, 'failed attempts');
    const failing = await t
      .http()
      .get(`/tenants/${tenant}/webhooks/${id}`)
      .set(...admin);
    expect(failing.body['failing-since']).toEqual(expect.any(String));
    receiver.status = 200;
    await waitFor(() => receiver.acceptedIds().length >= 3, 15000, 'the deliveries after recovery');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const accepted = receiver.acceptedIds();
    expect(new Set(accepted).size).toBe(3);
    expect(accepted).toHaveLength(3);
    for (const request of receiver.received) expect(() => WebhookReceiver.verify(secret, request)).not.toThrow();
    // The same webhook-id on every attempt of one event.
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(3);
    const healthy = await t
      .http()
      .get(`/tenants/${tenant}/webhooks/${id}`)
      .set(...admin);
    expect(healthy.body['failing-since']).toBeNull();
    const deliveries = await t
      .http()
      .get(`/tenants/${tenant}/webhooks/${id}/deliveries`)
      .set(...admin);
    expect(deliveries.status).toBe(200);
    expect(deliveries.body).toHaveLength(3);
    for (const delivery of deliveries.body as { status: string; attempts: number; 'last-status-code': number }[]) {
      expect(delivery).toMatchObject({ status: 'delivered', 'last-status-code': 200 });
      expect(delivery.attempts).toBeGreaterThanOrEqual(2);
    }
  });

  it('does not follow redirects (3xx is a failure), lists the delivery, and redelivers it', async () => {
    const tenant = await createTenant(t);
    const { id } = (await create(tenant)).body as { id: string };
    receiver.status = 302;
    const tested = await t
      .http()
      .post(`/tenants/${tenant}/webhooks/${id}/test`)
      .set(...admin);
    expect(tested.status).toBe(200);
    expect(tested.body).toMatchObject({ ok: false, 'status-code': 302, error: expect.stringContaining('redirects are not followed') });
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([tested.body['webhook-id']]);
    expect(JSON.parse(receiver.received[0].body)).toMatchObject({ type: 'webhook.test' });

    await emit(t, event(tenant));
    await waitFor(() => receiver.received.length >= 2, 8000, 'the first attempt');
    const listed = await t
      .http()
      .get(`/tenants/${tenant}/webhooks/${id}/deliveries`)
      .set(...admin);
    expect(listed.body[0]).toMatchObject({ status: 'pending', 'last-status-code': 302, 'event-type': 'integration.verification.failed' });
    const deliveryId = listed.body[0].id as string;
    // Only /hooks was asked: the redirect's target never was.
    expect(receiver.received.every((r) => r.status === 302)).toBe(true);

    receiver.status = 200;
    await waitFor(() => receiver.acceptedIds().includes(deliveryId), 8000, 'delivery');
    const again = await t
      .http()
      .post(`/tenants/${tenant}/webhooks/${id}/deliveries/${deliveryId}/redeliver`)
      .set(...admin);
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ id: deliveryId, status: 'pending' });
    await waitFor(() => receiver.acceptedIds().filter((x) => x === deliveryId).length === 2, 8000, 'the redelivery');
    const missing = await t
      .http()
      .post(`/tenants/${tenant}/webhooks/${id}/deliveries/evt_000000000000000000000000/redeliver`)
      .set(...admin);
    expect(missing.status).toBe(404);
    const actions = (await t.db.query<{ action: string }>('SELECT action FROM audit_events WHERE tenant_id = ?', [tenant])).map(
      (r) => r.action,
    );
    expect(actions).toContain('webhook.redeliver');
  });

  it('rotates the secret: during the overlap both the old and the new secret verify', async () => {
    const tenant = await createTenant(t);
    const { id, secret: old } = (await create(tenant)).body as { id: string; secret: string };
    const rotated = await t
      .http()
      .post(`/tenants/${tenant}/webhooks/${id}/rotate-secret`)
      .set(...admin);
    expect(rotated.status).toBe(200);
    const fresh = rotated.body.secret as string;
    expect(fresh).not.toBe(old);
    expect(rotated.body['previous-secret-expires-at']).toEqual(expect.any(String));
    await emit(t, event(tenant));
    await waitFor(() => receiver.received.length >= 1, 8000, 'the delivery');
    const [request] = receiver.received;
    expect(String(request.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(() => WebhookReceiver.verify(fresh, request)).not.toThrow();
    expect(() => WebhookReceiver.verify(old, request)).not.toThrow();
    expect(() => WebhookReceiver.verify(`whsec_${Buffer.alloc(32, 1).toString('base64')}`, request)).toThrow();
    const audit = await t.db.query<Record<string, unknown>>('SELECT * FROM audit_events WHERE tenant_id = ?', [tenant]);
    expect(audit.map((r) => r.action)).toContain('webhook.rotate-secret');
    expect(JSON.stringify(audit).includes(fresh.slice(6))).toBe(false);
  });

  it('removes the webhooks and deliveries of a deleted tenant', async () => {
    const tenant = await createTenant(t);
    await create(tenant);
    receiver.status = 500;
    await emit(t, event(tenant));
    expect(
      (
        await t
          .http()
          .delete(`/tenants/${tenant}`)
          .set(...admin)
      ).status,
    ).toBe(204);
    expect(await t.db.query('SELECT id FROM webhooks WHERE tenant_id = ?', [tenant])).toEqual([]);
    expect(await t.db.query('SELECT event_id FROM webhook_deliveries WHERE tenant_id = ?', [tenant])).toEqual([]);
  });
});

describe('Webhooks: disabling and restarts (issue 15)', () => {
  let receiver: WebhookReceiver;
  const admin = bearer(adminToken());

  beforeAll(async () => {
    receiver = await new WebhookReceiver().start();
  });
  afterAll(() => receiver.stop());

  it('disables an endpoint failing for WEBHOOK_DISABLE_AFTER, says why, and re-enables it with PATCH', async () => {
    const t = await startTestApp({ ...FAST, WEBHOOK_DISABLE_AFTER: '1' });
    try {
      const tenant = await createTenant(t);
      const { id } = (
        await t
          .http()
          .post(`/tenants/${tenant}/webhooks`)
          .set(...admin)
          .send({ url: receiver.url, events: ['integration.created'] })
      ).body as { id: string };
      receiver.status = 503;
      await emit(t, { ...event(tenant), type: 'integration.created' });
      await waitFor(
        async () =>
          (
            await t
              .http()
              .get(`/tenants/${tenant}/webhooks/${id}`)
              .set(...admin)
          ).body.enabled === false,
        10000,
        'disabling',
      );
      const disabled = await t
        .http()
        .get(`/tenants/${tenant}/webhooks/${id}`)
        .set(...admin);
      expect(disabled.body['disabled-reason']).toMatch(
        /answered 503.*re-enable with PATCH \{"enabled": true\} once the endpoint answers 2xx/,
      );
      // The worker's decision is in the tenant's audit trail, by its own actor.
      const disabling = await t.db.query<{ actor_sub: string; target: string }>(
        "SELECT actor_sub, target FROM audit_events WHERE tenant_id = ? AND action = 'webhook.disable'",
        [tenant],
      );
      expect(disabling).toEqual([{ actor_sub: 'system:webhooks', target: id }]);
      const attempts = receiver.received.length;
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(receiver.received.length).toBe(attempts); // nothing is sent to a disabled endpoint
      receiver.status = 200;
      const enabled = await t
        .http()
        .patch(`/tenants/${tenant}/webhooks/${id}`)
        .set(...admin)
        .send({ enabled: true });
      expect(enabled.body).toMatchObject({ enabled: true, 'disabled-reason': null, 'failing-since': null });
      await waitFor(() => receiver.acceptedIds().length === 1, 8000, 'the waiting delivery');
    } finally {
      await t.close();
    }
  });

  it('delivers after a restart what an instance stopped before sending, and two instances on one database send each event once', async () => {
    receiver.received.length = 0;
    receiver.status = 200;
    const dir = process.env.DATABASE_URL?.startsWith('mysql') ? undefined : join(tmpdir(), `hooks-${Date.now()}`);
    const shared: Record<string, string> = dir === undefined ? {} : { DATABASE_URL: `sqlite:${dir}.sqlite` };
    // Emitted by an instance that sends nothing, and closed before any delivery.
    const first = await startTestApp({ ...FAST, ...shared, WEBHOOK_DELIVERY: 'off' });
    const tenant = await createTenant(first);
    const { secret } = (
      await first
        .http()
        .post(`/tenants/${tenant}/webhooks`)
        .set(...admin)
        .send({ url: receiver.url, events: ['integration.updated'] })
    ).body as { secret: string };
    for (let i = 0; i < 20; i++) await emit(first, { ...event(tenant, `n-${i}`), type: 'integration.updated' });
    await first.app.close();
    expect(receiver.received).toHaveLength(0);
    const [a, b] = [await startTestApp({ ...FAST, ...shared }), await startTestApp({ ...FAST, ...shared })];
    try {
      await waitFor(() => receiver.acceptedIds().length >= 20, 15000, 'the 20 deliveries');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(receiver.acceptedIds()).toHaveLength(20);
      expect(new Set(receiver.acceptedIds()).size).toBe(20);
      for (const request of receiver.received) expect(() => WebhookReceiver.verify(secret, request)).not.toThrow();
    } finally {
      await a.db.query('DELETE FROM tenants WHERE id = ?', [tenant]);
      await a.close();
      await b.close();
      if (dir !== undefined) rmSync(`${dir}.sqlite`, { force: true });
    }
  });
});
