import type { LightMyRequestResponse } from 'fastify';
import { fillPath, listRoutes } from '../helpers/routes';
import { adminToken, createTenant, startTestApp, token, type TestApp } from '../helpers/test-app';

/**
 * Issue #5, limits: body size (413), content type (415), per-token rate limit
 * (429 + Retry-After), helmet's headers, Cache-Control: no-store on every API
 * answer, CORS off unless CORS_ORIGINS lists the origin.
 */
const admin = { authorization: `Bearer ${adminToken()}` };
const json = { ...admin, 'content-type': 'application/json' };

function expectErrorBody(response: LightMyRequestResponse, status: number): void {
  expect({ status: response.statusCode, type: response.headers['content-type'] }).toEqual({
    status,
    type: expect.stringMatching(/^application\/json/),
  });
  expect(response.json()).toEqual(expect.objectContaining({ error: expect.any(String), requestId: expect.any(String) }));
  expect(response.headers['cache-control']).toBe('no-store');
}

/** A twilio body of exactly `bytes` bytes of JSON. */
function bodyOfSize(bytes: number): string {
  const base = JSON.stringify({ account: 'AC1', password: '' });
  return JSON.stringify({ account: 'AC1', password: 'p'.repeat(bytes - base.length) });
}

describe('Security: limits', () => {
  describe('with the default settings', () => {
    let t: TestApp;
    let tenant: string;
    beforeAll(async () => {
      t = await startTestApp();
      tenant = await createTenant(t, 'limits');
    });
    afterAll(() => t.close());

    it('answers 413 to a body over BODY_LIMIT (64 kB by default), with or without Content-Length', async () => {
      const url = `/tenants/${tenant}/integrations/twilio`;
      expect(Buffer.byteLength(bodyOfSize(64 * 1024))).toBe(64 * 1024);
      // At the limit the body is read (and then refused by validation: the secret is too long), over it is not.
      expect((await t.app.inject({ method: 'POST', url, headers: json, payload: bodyOfSize(64 * 1024) })).statusCode).toBe(400);
      expectErrorBody(await t.app.inject({ method: 'POST', url, headers: json, payload: bodyOfSize(64 * 1024 + 1) }), 413);
      expectErrorBody(
        await t.app.inject({
          method: 'POST',
          url: '/tenants',
          headers: json,
          payload: JSON.stringify({ id: 'x', name: 'n'.repeat(70_000) }),
        }),
        413,
      );
      expectErrorBody(await t.app.inject({ method: 'PATCH', url, headers: json, payload: bodyOfSize(200_000) }), 413);

      // Chunked: no Content-Length to refuse up front, the limit still holds while reading.
      const server = t.app.getHttpServer();
      if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as { port: number };
      const chunks = [bodyOfSize(40_000), ' '.repeat(40_000)];
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
          controller.close();
        },
      });
      const chunked = await fetch(`http://127.0.0.1:${port}${url}`, { method: 'POST', headers: json, body: stream, duplex: 'half' });
      expect(chunked.status).toBe(413);
      expect(chunked.headers.get('cache-control')).toBe('no-store');
      expect(await chunked.json()).toEqual(expect.objectContaining({ error: expect.any(String) }));
      expect(await t.db.query('SELECT id FROM integrations WHERE tenant_id = ?', [tenant])).toEqual([]);
    });

    it('answers 415 to a body that is not JSON', async () => {
      const url = `/tenants/${tenant}/integrations/twilio`;
      for (const [type, payload] of [
        ['text/plain', '{"account":"AC1","password":"p"}'],
        ['application/x-www-form-urlencoded', 'account=AC1&password=p'],
        ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="account"\r\n\r\nAC1\r\n--x--\r\n'],
        ['application/xml', '<integration><account>AC1</account></integration>'],
        ['application/octet-stream', '{"account":"AC1","password":"p"}'],
        ['application/vnd.api+json', '{"account":"AC1","password":"p"}'],
        ['text/json', '{"account":"AC1","password":"p"}'],
      ]) {
        const response = await t.app.inject({ method: 'POST', url, headers: { ...admin, 'content-type': type }, payload });
        expect({ type, status: response.statusCode }).toEqual({ type, status: 415 });
        expectErrorBody(response, 415);
      }
      const ok = await t.app.inject({
        method: 'POST',
        url,
        headers: { ...admin, 'content-type': 'application/json; charset=utf-8' },
        payload: '{"account":"AC1","password":"p"}',
      });
      expect(ok.statusCode).toBe(201);
    });

    it("sets helmet's security headers on answers, errors and the docs alike", async () => {
      const answers = [
        await t.app.inject({ method: 'GET', url: `/tenants/${tenant}`, headers: admin }),
        await t.app.inject({ method: 'GET', url: '/tenants' }),
        await t.app.inject({ method: 'GET', url: '/no-such-route', headers: admin }),
        await t.app.inject({ method: 'POST', url: '/tenants', headers: { ...admin, 'content-type': 'text/plain' }, payload: 'x' }),
        await t.app.inject({ method: 'GET', url: '/health/live' }),
        await t.app.inject({ method: 'GET', url: '/docs' }),
      ];
      for (const response of answers) {
        expect(response.headers).toEqual(
          expect.objectContaining({
            'x-content-type-options': 'nosniff',
            'x-frame-options': 'SAMEORIGIN',
            'strict-transport-security': expect.stringMatching(/max-age=\d+/),
            'content-security-policy': expect.stringContaining("default-src 'self'"),
            'referrer-policy': 'no-referrer',
            'cross-origin-opener-policy': 'same-origin',
            'x-dns-prefetch-control': 'off',
            'x-permitted-cross-domain-policies': 'none',
            'x-request-id': expect.any(String),
          }),
        );
        expect(response.headers['x-powered-by']).toBeUndefined();
        expect(response.headers['content-security-policy']).not.toMatch(/script-src[^;]*unsafe/);
      }
    });

    it('sends Cache-Control: no-store on every API answer, success or error', async () => {
      await t.app.inject({
        method: 'POST',
        url: `/tenants/${tenant}/integrations/twilio`,
        headers: json,
        payload: '{"account":"AC1","password":"p"}',
      });
      const failures: string[] = [];
      for (const route of listRoutes(t.app)) {
        const url = fillPath(route.path, { iid: tenant, id: 'twilio' });
        const payload = route.method === 'POST' || route.method === 'PATCH' ? '{"account":"AC1","password":"p"}' : undefined;
        for (const headers of [admin, {}, { authorization: `Bearer ${token({ scope: 'integrations:read', tenants: ['other'] })}` }]) {
          const response = await t.app.inject({
            method: route.method,
            url,
            headers: payload ? { ...headers, 'content-type': 'application/json' } : headers,
            payload,
          });
          if (response.headers['cache-control'] !== 'no-store')
            failures.push(`${route.method} ${url} → ${response.statusCode}: ${String(response.headers['cache-control'])}`);
        }
        if (route.method === 'DELETE')
          await t.app.inject({
            method: 'POST',
            url: `/tenants/${tenant}/integrations/twilio`,
            headers: json,
            payload: '{"account":"AC1","password":"p"}',
          });
      }
      // The docs and their OpenAPI document hold no secret: they may be cached.
      for (const url of ['/no-such-route']) {
        const response = await t.app.inject({ method: 'GET', url, headers: admin });
        if (response.headers['cache-control'] !== 'no-store') failures.push(`GET ${url}: ${String(response.headers['cache-control'])}`);
      }
      expect(failures).toEqual([]);
    });

    it('keeps CORS off when CORS_ORIGINS is empty', async () => {
      const preflight = await t.app.inject({
        method: 'OPTIONS',
        url: '/tenants',
        headers: {
          origin: 'https://app.example.com',
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      });
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
      expect(preflight.headers['access-control-allow-headers']).toBeUndefined();
      const simple = await t.app.inject({ method: 'GET', url: '/tenants', headers: { ...admin, origin: 'https://app.example.com' } });
      expect(simple.statusCode).toBe(200);
      expect(simple.headers['access-control-allow-origin']).toBeUndefined();
      expect(simple.headers['access-control-allow-credentials']).toBeUndefined();
    });
  });

  describe('with CORS_ORIGINS and a smaller BODY_LIMIT', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ CORS_ORIGINS: 'https://app.example.com, https://admin.example.com', BODY_LIMIT: '2048' });
    });
    afterAll(() => t.close());

    it('allows exactly the listed origins', async () => {
      for (const origin of ['https://app.example.com', 'https://admin.example.com']) {
        const preflight = await t.app.inject({
          method: 'OPTIONS',
          url: '/tenants',
          headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
        });
        expect(preflight.statusCode).toBeLessThan(300);
        expect(preflight.headers['access-control-allow-origin']).toBe(origin);
        const simple = await t.app.inject({ method: 'GET', url: '/tenants', headers: { ...admin, origin } });
        expect(simple.headers['access-control-allow-origin']).toBe(origin);
        expect(String(simple.headers['access-control-expose-headers'])).toMatch(/ETag/i);
      }
      for (const origin of ['https://evil.example.com', 'https://app.example.com.evil.com', 'http://app.example.com', 'null']) {
        const preflight = await t.app.inject({
          method: 'OPTIONS',
          url: '/tenants',
          headers: { origin, 'access-control-request-method': 'GET' },
        });
        expect({ origin, allowed: preflight.headers['access-control-allow-origin'] }).toEqual({ origin, allowed: undefined });
        const simple = await t.app.inject({ method: 'GET', url: '/tenants', headers: { ...admin, origin } });
        expect({ origin, allowed: simple.headers['access-control-allow-origin'] }).toEqual({ origin, allowed: undefined });
      }
    });

    it('applies the configured BODY_LIMIT', async () => {
      const tenant = await createTenant(t, 'small');
      expectErrorBody(
        await t.app.inject({ method: 'POST', url: `/tenants/${tenant}/integrations/twilio`, headers: json, payload: bodyOfSize(2049) }),
        413,
      );
      expect(
        (await t.app.inject({ method: 'POST', url: `/tenants/${tenant}/integrations/twilio`, headers: json, payload: bodyOfSize(2048) }))
          .statusCode,
      ).toBe(201);
    });
  });

  describe('with RATE_LIMIT_MAX', () => {
    let t: TestApp;
    const MAX = 5;
    beforeAll(async () => {
      t = await startTestApp({ RATE_LIMIT_MAX: String(MAX), RATE_LIMIT_WINDOW_MS: '60000' });
    });
    afterAll(() => t.close());

    it('answers 429 with Retry-After past the limit, per token, and per address without one', async () => {
      const first = { authorization: `Bearer ${token({ sub: 'first', scope: 'platform:admin' })}` };
      const second = { authorization: `Bearer ${token({ sub: 'second', scope: 'platform:admin' })}` };
      for (let i = 0; i < MAX; i++) expect((await t.app.inject({ method: 'GET', url: '/tenants', headers: first })).statusCode).toBe(200);
      const limited = await t.app.inject({ method: 'GET', url: '/tenants', headers: first });
      expectErrorBody(limited, 429);
      const retryAfter = Number(limited.headers['retry-after']);
      expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
      expect(limited.headers['x-content-type-options']).toBe('nosniff');
      expect(limited.headers['x-request-id']).toBe(limited.json<{ requestId: string }>().requestId);
      // Another token has its own budget.
      expect((await t.app.inject({ method: 'GET', url: '/tenants', headers: second })).statusCode).toBe(200);
      // Without a token, the client address is the key; a flood of bad tokens is limited too.
      const anonymous = [];
      for (let i = 0; i <= MAX; i++)
        anonymous.push((await t.app.inject({ method: 'GET', url: '/tenants', remoteAddress: '10.9.8.7' })).statusCode);
      expect(anonymous).toEqual([...Array<number>(MAX).fill(401), 429]);
    });
  });
});
