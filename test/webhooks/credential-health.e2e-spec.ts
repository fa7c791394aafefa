import { type FakeVendors, startFakeVendors } from '../fakes/fake-vendors';
import { WebhookReceiver, waitFor } from '../helpers/webhook-receiver';
import { adminToken, bearer, createTenant, startTestApp, type TestApp } from '../helpers/test-app';

/** Checks every 2 s (ticks of 200 ms), deliveries every 100 ms. */
const INTERVAL_S = 2;
const ENV = {
  VERIFY_INTERVAL: `${INTERVAL_S}s`,
  VERIFY_TICK_MS: '200',
  VERIFY_TIMEOUT_MS: '1000',
  VERIFY_LEASE: '3s',
  WEBHOOK_ALLOW_PRIVATE: 'true',
  WEBHOOK_TICK_MS: '100',
  WEBHOOK_RETRY_BASE_MS: '100',
  WEBHOOK_TIMEOUT_MS: '2000',
  WEBHOOK_LEASE_MS: '3000',
};
/** What a busy 2-core CI machine needs beyond the interval: a tick, a vendor call, a delivery. */
const MARGIN_MS = 3000;

interface Payload {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

/**
 * Issue 15 end to end, as a tenant's system sees it: a credential broken at
 * the (fake, loopback) vendor is found by the scheduled re-verification and
 * announced to the tenant's endpoint as integration.verification.failed
 * within one interval; after the vendor accepts it again, as
 * integration.verification.recovered. Each delivery verifies with the
 * Standard Webhooks reference library and carries no secret; a failure seen
 * again with the same reason is not announced twice.
 */
describe('Credential health: scheduled checks announce failures and recoveries by webhook', () => {
  const admin = bearer(adminToken());
  let fakes: FakeVendors;
  let receiver: WebhookReceiver;
  let t: TestApp;
  beforeAll(async () => {
    fakes = await startFakeVendors();
    receiver = await new WebhookReceiver().start();
    t = await startTestApp({ ...fakes.env, ...ENV });
  });
  afterAll(async () => {
    await t?.close();
    await receiver?.stop();
    await fakes?.close();
  });

  it('verification.failed within one interval of the break, verification.recovered after the fix, each once', async () => {
    const tenant = await createTenant(t, 'health');
    const subscribed = await t
      .http()
      .post(`/tenants/${tenant}/webhooks`)
      .set(...admin)
      .send({
        url: receiver.url,
        events: ['integration.verification.failed', 'integration.verification.recovered'],
        description: 'on-call',
      });
    expect(subscribed.status).toBe(201);
    const secret = (subscribed.body as { secret: string }).secret;
    const good = { ...fakes.good.twilio };
    expect(
      (
        await t
          .http()
          .post(`/tenants/${tenant}/integrations/twilio`)
          .set(...admin)
          .send({ type: 'twilio', ...good })
      ).status,
    ).toBe(201);
    const events = (): Payload[] => receiver.received.map((request) => WebhookReceiver.verify(secret, request) as Payload);
    const state = () =>
      t
        .http()
        .get(`/tenants/${tenant}/integrations/twilio/verification`)
        .set(...admin);

    // The first scheduled check finds the credentials good: ok from nothing is no transition, so nothing is sent.
    await waitFor(async () => (await state()).status === 200, MARGIN_MS, 'the first scheduled check');
    expect((await state()).body.status).toBe('ok');

    fakes.good.twilio.password = 'changed-at-the-vendor-000000000000';
    const broken = Date.now();
    try {
      await waitFor(() => events().length >= 1, INTERVAL_S * 1000 + MARGIN_MS, 'integration.verification.failed');
      expect(Date.now() - broken).toBeLessThanOrEqual(INTERVAL_S * 1000 + MARGIN_MS);
      const [failed] = events();
      expect(failed.type).toBe('integration.verification.failed');
      expect(failed.data).toEqual({
        tenant,
        integration: 'twilio',
        'integration-type': 'twilio',
        revision: 1,
        status: 'failed',
        message: 'Twilio rejected the credentials: Authenticate (code 20003), HTTP 401',
      });
      // Seen failing again at the next check, for the same reason: not announced again.
      await waitFor(
        async () =>
          (
            await t
              .http()
              .get(`/tenants/${tenant}/integrations/twilio/verification/history`)
              .set(...admin)
          ).body.length >= 3,
        INTERVAL_S * 1000 + MARGIN_MS,
        'a second failed check',
      );
      expect(events().map((e) => e.type)).toEqual(['integration.verification.failed']);
    } finally {
      fakes.good.twilio.password = good.password;
    }

    await waitFor(() => events().length >= 2, INTERVAL_S * 1000 + MARGIN_MS, 'integration.verification.recovered');
    const recovered = events()[1];
    expect(recovered.type).toBe('integration.verification.recovered');
    expect(recovered.data).toMatchObject({ tenant, integration: 'twilio', 'integration-type': 'twilio', revision: 1, status: 'ok' });
    expect(new Set(receiver.acceptedIds()).size).toBe(receiver.acceptedIds().length);
    const everything = receiver.received.map((r) => r.body + JSON.stringify(r.headers)).join('\n');
    expect(everything).not.toContain(good.password);
    expect(everything).not.toContain('changed-at-the-vendor');
  });
});
