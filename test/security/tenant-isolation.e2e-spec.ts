import { randomBytes } from 'node:crypto';
import { fillPath, listRoutes, type RouteInfo } from '../helpers/routes';
import { adminToken, createTenant, startTestApp, token, type TestApp } from '../helpers/test-app';

/**
 * Issue #5, tenant isolation: for every route under /tenants/:iid (read from the
 * controllers, so routes added later are walked too), a token that does not
 * list tenant B, or lacks the route's scope, gets 403 and B's rows stay
 * byte-identical; list routes never show B's data.
 */
const NON_ADMIN_SCOPES = ['integrations:read', 'integrations:write', 'integrations:secrets'];

/** What a write would send if the guard let it through: a valid change of B's data. */
function hostileBody(route: RouteInfo): unknown {
  if (route.method === 'GET' || route.method === 'DELETE') return undefined;
  if (route.path === '/tenants/:iid') return { name: 'PWNED' };
  if (route.path === '/tenants/:iid/integrations') return { id: 'twilio', account: 'PWNED', password: 'PWNED-SECRET' };
  if (route.path === '/tenants/:iid/integrations/:id')
    return route.method === 'PATCH' ? { account: 'PWNED' } : { account: 'PWNED', password: 'PWNED-SECRET' };
  return {};
}

describe('Security: tenant isolation', () => {
  let t: TestApp;
  let a: string;
  let b: string;
  let iidRoutes: RouteInfo[];
  const bMarker = `b-only-${randomBytes(6).toString('hex')}`;
  const bSecret = `b-secret-${randomBytes(12).toString('hex')}`;

  async function inject(
    method: string,
    url: string,
    jwt: string,
    body?: unknown,
  ): Promise<{ status: number; body: string; json: () => Record<string, unknown> }> {
    const response = await t.app.inject({
      method: method as 'GET',
      url,
      headers: { authorization: `Bearer ${jwt}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    return { status: response.statusCode, body: response.body, json: () => response.json() };
  }

  /** Every stored byte of a tenant: its row and its integrations, as the database returns them. */
  async function snapshot(tenantId: string): Promise<string> {
    const tenant = await t.db.query('SELECT * FROM tenants WHERE id = ?', [tenantId]);
    const integrations = await t.db.query('SELECT * FROM integrations WHERE tenant_id = ? ORDER BY id', [tenantId]);
    return JSON.stringify({ tenant, integrations });
  }

  async function seed(tenantId: string, marker: string, secret: string): Promise<void> {
    const admin = adminToken();
    for (const [id, body] of [
      ['twilio', { account: `${marker}-twilio`, password: `${secret}-twilio` }],
      [
        'salesforce-eu',
        {
          type: 'salesforce',
          'consumer-key': `${marker}-key`,
          'consumer-secret': `${secret}-cs`,
          username: `${marker}@example.com`,
          password: `${secret}-pw`,
          'secret-token': `${secret}-st`,
        },
      ],
    ] as const) {
      const response = await inject('POST', `/tenants/${tenantId}/integrations/${id}`, admin, body);
      if (response.status !== 201) throw new Error(`seeding ${tenantId}/${id} answered ${response.status}: ${response.body}`);
    }
  }

  beforeAll(async () => {
    t = await startTestApp();
    a = await createTenant(t, 'iso-a');
    b = await createTenant(t, 'iso-b');
    await seed(a, `a-only-${randomBytes(6).toString('hex')}`, `a-secret-${randomBytes(12).toString('hex')}`);
    await seed(b, bMarker, bSecret);
    iidRoutes = listRoutes(t.app).filter((route) => route.path.includes(':iid'));
  });
  afterAll(() => t.close());

  it('walks every documented /tenants/{iid} route', async () => {
    const documented = (await t.app.inject({ method: 'GET', url: '/docs-json' })).json<{ paths: Record<string, Record<string, unknown>> }>()
      .paths;
    const documentedRoutes = Object.entries(documented)
      .filter(([path]) => path.includes('{iid}'))
      .flatMap(([path, operations]) =>
        Object.keys(operations).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
      );
    expect(iidRoutes.map((r) => `${r.method} ${r.path}`).sort()).toEqual(documentedRoutes.sort());
    // GET/PATCH/DELETE tenant; list, get, post, post-by-body, patch, delete integrations (and any added since).
    expect(iidRoutes.length).toBeGreaterThanOrEqual(9);
    for (const route of iidRoutes)
      expect({ route: `${route.method} ${route.path}`, scope: route.scope }).toEqual({
        route: `${route.method} ${route.path}`,
        scope: expect.any(String),
      });
  });

  it("answers 403 to every token that does not list tenant B, on every route, and leaves B's rows byte-identical", async () => {
    const attackers: [string, string][] = [
      ["tenant A's token with every non-admin scope", token({ scope: NON_ADMIN_SCOPES.join(' '), tenants: [a] })],
      ['a token without tenants', token({ scope: NON_ADMIN_SCOPES.join(' ') })],
      ['a token with an empty tenants list', token({ scope: NON_ADMIN_SCOPES.join(' '), tenants: [] })],
      ['a token listing "*"', token({ scope: NON_ADMIN_SCOPES.join(' '), tenants: ['*'] })],
      ['a token listing a prefix of B', token({ scope: NON_ADMIN_SCOPES.join(' '), tenants: [b.slice(0, -1)] })],
    ];
    const before = await snapshot(b);
    const failures: string[] = [];
    let attempts = 0;
    for (const route of iidRoutes) {
      const url = fillPath(route.path, { iid: b, id: 'twilio' });
      for (const [who, jwt] of attackers) {
        attempts++;
        const response = await inject(route.method, url, jwt, hostileBody(route));
        if (response.status !== 403 || typeof response.json().error !== 'string')
          failures.push(`${route.method} ${url} by ${who}: ${response.status} ${response.body}`);
        if (response.body.includes(bMarker) || response.body.includes(bSecret))
          failures.push(`${route.method} ${url} by ${who} showed B's data`);
        if ((await snapshot(b)) !== before) failures.push(`${route.method} ${url} by ${who} changed B's rows`);
      }
    }
    console.log(`${attempts} cross-tenant attempts on ${iidRoutes.length} routes: ${failures.length} leaks`);
    expect(failures).toEqual([]);
  });

  it("answers 403 to a token for tenant B that lacks the route's scope, and leaves B's rows byte-identical", async () => {
    const before = await snapshot(b);
    const failures: string[] = [];
    for (const route of iidRoutes) {
      const url = fillPath(route.path, { iid: b, id: 'twilio' });
      const scopes = NON_ADMIN_SCOPES.filter((scope) => scope !== route.scope);
      for (const jwt of [token({ scope: scopes.join(' '), tenants: [b] }), token({ tenants: [b] })]) {
        const response = await inject(route.method, url, jwt, hostileBody(route));
        if (response.status !== 403 || typeof response.json().error !== 'string')
          failures.push(`${route.method} ${url} without ${route.scope}: ${response.status}`);
        if (response.body.includes(bMarker) || response.body.includes(bSecret))
          failures.push(`${route.method} ${url} without ${route.scope} showed B's data`);
      }
      if ((await snapshot(b)) !== before) failures.push(`${route.method} ${url} without ${route.scope} changed B's rows`);
    }
    expect(failures).toEqual([]);
  });

  it("never shows tenant B's data in tenant A's lists", async () => {
    const reader = token({ scope: NON_ADMIN_SCOPES.join(' '), tenants: [a] });
    const tenants = await inject('GET', '/tenants?limit=1000', reader);
    expect(tenants.status).toBe(200);
    expect((tenants.json() as unknown as { id: string }[]).map((x) => x.id)).toEqual([a]);

    const integrations = await inject('GET', `/tenants/${a}/integrations?limit=1000`, reader);
    expect(integrations.status).toBe(200);
    expect((integrations.json() as unknown as { id: string }[]).map((x) => x.id)).toEqual(['salesforce-eu', 'twilio']);
    for (const response of [tenants, integrations]) {
      expect(response.body).not.toContain(b);
      expect(response.body).not.toContain(bMarker);
      expect(response.body).not.toContain(bSecret);
    }
    const nobody = await inject('GET', '/tenants?limit=1000', token({ scope: NON_ADMIN_SCOPES.join(' ') }));
    expect(nobody.json()).toEqual([]);
  });

  /** What a token for `lookAlike` (an id that only resembles B's) manages to see or change of B. */
  async function lookAlikeFailures(lookAlike: string): Promise<string[]> {
    const jwt = token({ scope: NON_ADMIN_SCOPES.join(' '), tenants: [lookAlike] });
    const base = `/tenants/${encodeURIComponent(lookAlike)}`;
    const failures: string[] = [];
    for (const [method, url, body] of [
      ['GET', '/tenants?limit=1000'],
      ['GET', base],
      ['GET', `${base}/integrations`],
      ['GET', `${base}/integrations/twilio`],
      ['PATCH', `${base}/integrations/twilio`, { account: 'PWNED' }],
      ['POST', `${base}/integrations/twilio`, { account: 'PWNED', password: 'PWNED-SECRET' }],
      ['POST', `${base}/integrations`, { id: 'pwned', type: 'twilio', account: 'PWNED', password: 'PWNED-SECRET' }],
      ['DELETE', `${base}/integrations/salesforce-eu`],
    ] as [string, string, unknown?][]) {
      const before = await snapshot(b);
      const response = await inject(method, url, jwt, body);
      const showsB = response.body.includes(b) || response.body.includes(bMarker);
      const allowed = response.status === 200 ? !showsB : [400, 403, 404].includes(response.status);
      if (!allowed) failures.push(`${method} ${url} → ${response.status}${showsB ? " with B's data" : ''}`);
      if ((await snapshot(b)) !== before) failures.push(`${method} ${url} changed B's rows`);
    }
    return failures;
  }

  it('treats tenant ids as exact: a token for B plus trailing spaces, or another non-id spelling, never reaches B', async () => {
    for (const lookAlike of [`${b} `, `${b}\t`, ` ${b}`, `${b}\u0000`]) {
      expect({ lookAlike, failures: await lookAlikeFailures(lookAlike) }).toEqual({ lookAlike, failures: [] });
    }
  });

  it('treats tenant ids as exact: a token for B in other letter case never reaches B', async () => {
    for (const lookAlike of [b.toUpperCase(), b[0].toUpperCase() + b.slice(1)]) {
      expect({ lookAlike, failures: await lookAlikeFailures(lookAlike) }).toEqual({ lookAlike, failures: [] });
    }
  });
});
