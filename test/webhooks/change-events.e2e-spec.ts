import type { BeforeQueryEvent, EntitySubscriberInterface } from 'typeorm';
import { systemActor } from '../../src/common/request-actor';
import { KeyManagementService } from '../../src/crypto/key-management.service';
import { WebhookReceiver, waitFor, type Received } from '../helpers/webhook-receiver';
import { adminToken, bearer, createTenant, startTestApp, TEST_KEY_A, TEST_KEY_B, type TestApp } from '../helpers/test-app';

/** Short beats for tests: a 100 ms tick, retries from 100 ms. */
const FAST = {
  WEBHOOK_ALLOW_PRIVATE: 'true',
  WEBHOOK_TICK_MS: '100',
  WEBHOOK_RETRY_BASE_MS: '100',
  WEBHOOK_TIMEOUT_MS: '2000',
  WEBHOOK_LEASE_MS: '3000',
};

interface Payload {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

/**
 * Issue 15: the changes themselves emit their webhook events, in their own
 * transactions: integration created / updated / deleted (a restore after a
 * delete is a creation again), and tenant.keys.rotated from a key rotation.
 * A refused write emits nothing. Every delivery verifies with the Standard
 * Webhooks reference library, and no payload carries a secret.
 */
describe('Webhook events of integration writes and key rotation', () => {
  const admin = bearer(adminToken());
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await new WebhookReceiver().start();
  });
  afterAll(() => receiver.stop());

  const subscribe = async (t: TestApp, tenant: string, events: string[]): Promise<string> => {
    const created = await t
      .http()
      .post(`/tenants/${tenant}/webhooks`)
      .set(...admin)
      .send({ url: receiver.url, events });
    expect(created.status).toBe(201);
    return (created.body as { secret: string }).secret;
  };
  /** The verified payloads received for `tenant`, in the order their changes happened (by revision, then time). */
  const payloadsOf = (secret: string, tenant: string): Payload[] =>
    receiver.received
      .filter((request) => (JSON.parse(request.body) as Payload).data.tenant === tenant)
      .map((request: Received) => WebhookReceiver.verify(secret, request) as Payload)
      .sort((a, b) => Number(a.data.revision ?? 0) - Number(b.data.revision ?? 0) || a.timestamp.localeCompare(b.timestamp));

  describe('integration writes', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp(FAST);
    });
    afterAll(() => t.close());

    it('create, replace, PATCH, delete and restore each deliver one event naming the revision, never a secret; refused writes deliver none', async () => {
      const tenant = await createTenant(t, 'hooked');
      const secret = await subscribe(t, tenant, ['integration.created', 'integration.updated', 'integration.deleted']);
      const path = `/tenants/${tenant}/integrations/twilio`;
      const send = (method: 'post' | 'patch' | 'delete', body?: object, url = path) => {
        const http = t.http();
        return (method === 'post' ? http.post(url) : method === 'patch' ? http.patch(url) : http.delete(url)).set(...admin).send(body);
      };

      expect((await send('post', { account: 'AC-1', password: 'first-secret-value' })).status).toBe(201);
      expect((await send('post', { account: 'AC-2', password: 'second-secret-value' })).status).toBe(200);
      expect((await send('patch', { password: 'third-secret-value' })).status).toBe(200);
      // Refused: a wrong field (400) and a stale If-Match (412) change nothing, and so send nothing.
      expect((await send('patch', { nonsense: 'x' })).status).toBe(400);
      expect(
        (
          await t
            .http()
            .patch(path)
            .set(...admin)
            .set('if-match', '"1"')
            .send({ account: 'AC-9' })
        ).status,
      ).toBe(412);
      expect((await send('delete')).status).toBe(204);
      expect((await send('post', undefined, `${path}/versions/3/restore`)).status).toBe(201);

      await waitFor(() => payloadsOf(secret, tenant).length >= 5, 8000, 'five events');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const payloads = payloadsOf(secret, tenant);
      expect(payloads.map((p) => [p.type, p.data.revision])).toEqual([
        ['integration.created', 1],
        ['integration.updated', 2],
        ['integration.updated', 3],
        ['integration.deleted', 4],
        ['integration.created', 5],
      ]);
      for (const payload of payloads) {
        expect(payload.data).toEqual({ tenant, integration: 'twilio', 'integration-type': 'twilio', revision: payload.data.revision });
        expect(Date.parse(payload.timestamp)).not.toBeNaN();
      }
      const everything = receiver.received.map((r) => r.body + JSON.stringify(r.headers)).join('\n');
      for (const value of ['first-secret-value', 'second-secret-value', 'third-secret-value']) expect(everything).not.toContain(value);
    });

    it('an endpoint gets only the events it subscribed to', async () => {
      const tenant = await createTenant(t, 'picky');
      const secret = await subscribe(t, tenant, ['integration.deleted']);
      const path = `/tenants/${tenant}/integrations/sendgrid`;
      expect(
        (
          await t
            .http()
            .post(path)
            .set(...admin)
            .send({ type: 'sendgrid', account: 'a', password: 'p' })
        ).status,
      ).toBe(201);
      expect(
        (
          await t
            .http()
            .delete(path)
            .set(...admin)
        ).status,
      ).toBe(204);
      await waitFor(() => payloadsOf(secret, tenant).length >= 1, 8000, 'the deletion event');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(payloadsOf(secret, tenant).map((p) => p.type)).toEqual(['integration.deleted']);
    });

    it("a write reads with its row whether the tenant has an enabled webhook: without one it sends no outbox statement, and one enabled since gets the next write's event", async () => {
      const tenant = await createTenant(t, 'quiet');
      const path = `/tenants/${tenant}/integrations/twilio`;
      const statements: string[] = [];
      const counter: EntitySubscriberInterface = { beforeQuery: (event: BeforeQueryEvent<unknown>) => void statements.push(event.query) };
      const outboxStatements = () => statements.filter((sql) => /INSERT INTO .webhook_deliveries./.test(sql)).length;
      const replace = async (account: string) => {
        statements.length = 0;
        const answer = await t
          .http()
          .post(path)
          .set(...admin)
          .send({ account, password: 'quiet-secret-value' });
        expect([200, 201]).toContain(answer.status);
        return outboxStatements();
      };
      const setEnabled = async (webhook: string, enabled: boolean) =>
        expect(
          (
            await t
              .http()
              .patch(`/tenants/${tenant}/webhooks/${webhook}`)
              .set(...admin)
              .send({ enabled })
          ).status,
        ).toBe(200);

      t.db.dataSource.subscribers.push(counter);
      try {
        // A create has no row to read the probe with: its outbox statement finds the (no) subscribers itself.
        expect(await replace('AC-1')).toBe(1);
        expect(await replace('AC-2')).toBe(0);

        const created = await t
          .http()
          .post(`/tenants/${tenant}/webhooks`)
          .set(...admin)
          .send({ url: receiver.url, events: ['integration.updated'] });
        expect(created.status).toBe(201);
        const { id: webhook, secret } = created.body as { id: string; secret: string };
        expect(await replace('AC-3')).toBe(1);

        await setEnabled(webhook, false);
        expect(await replace('AC-4')).toBe(0);
        await setEnabled(webhook, true);
        expect(await replace('AC-5')).toBe(1);

        await waitFor(() => payloadsOf(secret, tenant).length >= 2, 8000, 'two events');
        await new Promise((resolve) => setTimeout(resolve, 300));
        // Revisions 3 and 5 only: 1 and 2 came before the webhook, 4 while it was disabled.
        expect(payloadsOf(secret, tenant).map((p) => [p.type, p.data.revision])).toEqual([
          ['integration.updated', 3],
          ['integration.updated', 5],
        ]);
      } finally {
        t.db.dataSource.subscribers.splice(t.db.dataSource.subscribers.indexOf(counter), 1);
      }
    });
  });

  describe('key rotation', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ ...FAST, ENCRYPTION_KEYS: `${TEST_KEY_B},${TEST_KEY_A}` }, { ownDatabase: true });
    });
    afterAll(() => t.close());

    it('keys:rotate --reencrypt delivers tenant.keys.rotated with the new data-key version to each subscribed tenant', async () => {
      const tenant = await createTenant(t, 'rotated');
      const secret = await subscribe(t, tenant, ['tenant.keys.rotated']);
      expect(
        (
          await t
            .http()
            .post(`/tenants/${tenant}/integrations/twilio`)
            .set(...admin)
            .send({ account: 'AC', password: 'pw' })
        ).status,
      ).toBe(201);
      const summary = await t.app.get(KeyManagementService).rotate({ reencrypt: true, batchSize: 10, actor: systemActor('cli:test') });
      expect(summary.failed).toEqual([]);
      await waitFor(() => payloadsOf(secret, tenant).length >= 1, 8000, 'the rotation event');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(payloadsOf(secret, tenant).map((p) => p.data)).toEqual([{ tenant, 'data-key-version': 2 }]);
      expect(payloadsOf(secret, tenant)[0].type).toBe('tenant.keys.rotated');
    });
  });
});
