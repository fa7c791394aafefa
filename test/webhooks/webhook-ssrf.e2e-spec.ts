import { WebhookEventSink } from '../../src/webhooks/webhook-events';
import { WebhookReceiver, waitFor } from '../helpers/webhook-receiver';
import { adminToken, bearer, createTenant, startTestApp, type TestApp } from '../helpers/test-app';

/** WEBHOOK_ALLOW_PRIVATE unset: what production does (issue 15's outbound safety). */
describe('Webhooks: outbound safety without WEBHOOK_ALLOW_PRIVATE', () => {
  let t: TestApp;
  let receiver: WebhookReceiver;
  let tenant: string;
  const admin = bearer(adminToken());

  beforeAll(async () => {
    t = await startTestApp({ WEBHOOK_TICK_MS: '100', WEBHOOK_RETRY_BASE_MS: '100' });
    receiver = await new WebhookReceiver().start();
    tenant = await createTenant(t);
  });

  afterAll(async () => {
    await receiver.stop();
    await t.close();
  });

  it.each([
    'http://127.0.0.1:8080/hooks',
    'http://10.1.2.3/hooks',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]:9000/hooks',
    'http://192.168.0.10/hooks',
  ])('refuses %s at registration', async (url) => {
    const response = await t
      .http()
      .post(`/tenants/${tenant}/webhooks`)
      .set(...admin)
      .send({ url, events: ['integration.created'] });
    expect(response.status).toBe(400);
    expect(response.body.error).toMatch(
      /loopback, private or link-local address; such endpoints are refused unless WEBHOOK_ALLOW_PRIVATE=true/,
    );
  });

  it('refuses credentials in the URL without repeating them', async () => {
    const response = await t
      .http()
      .post(`/tenants/${tenant}/webhooks`)
      .set(...admin)
      .send({ url: 'https://hook-user:s3cr3t-pw@hooks.example.com/x', events: ['integration.created'] });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe(
      'Validation failed (url: url must not hold a user name or password; authenticate the request with its signature)',
    );
    expect(JSON.stringify(response.body)).not.toContain('s3cr3t-pw');
  });

  it('refuses at delivery a name that resolves to loopback (localhost): the test route and the worker', async () => {
    const url = `http://localhost:${receiver.port}/hooks`;
    const created = await t
      .http()
      .post(`/tenants/${tenant}/webhooks`)
      .set(...admin)
      .send({ url, events: ['integration.created'] });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const tested = await t
      .http()
      .post(`/tenants/${tenant}/webhooks/${id}/test`)
      .set(...admin);
    expect(tested.status).toBe(200);
    expect(tested.body).toMatchObject({
      ok: false,
      'status-code': null,
      error: expect.stringMatching(/^refused to connect to (127\.0\.0\.1|::1): a loopback/),
    });

    const sink = t.app.get(WebhookEventSink);
    await t.db.transaction((tx) =>
      sink.emit({ tenantId: tenant, type: 'integration.created', data: { tenant, integration: 'x' }, at: new Date() }, tx),
    );
    await waitFor(
      async () => {
        const list = await t
          .http()
          .get(`/tenants/${tenant}/webhooks/${id}/deliveries`)
          .set(...admin);
        return (list.body as { attempts: number }[])[0]?.attempts >= 1;
      },
      8000,
      'an attempt',
    );
    const [delivery] = (
      await t
        .http()
        .get(`/tenants/${tenant}/webhooks/${id}/deliveries`)
        .set(...admin)
    ).body as Record<string, unknown>[];
    expect(delivery).toMatchObject({
      status: 'pending',
      'last-status-code': null,
      'last-error': expect.stringMatching(/^refused to connect/),
    });
    expect(receiver.received).toHaveLength(0);
  });
});
