import type { AddressInfo } from 'node:net';
import {
  type CreatedApiClient,
  createIntegrationsClient,
  type Integration,
  type IntegrationInput,
  type IntegrationsApi,
  type Tenant,
  type TokenRequest,
} from '../clients/typescript';
import { SEED_EXAMPLES } from './helpers/seed-examples';
import { adminToken, startTestApp, token, type TestApp } from './helpers/test-app';

/**
 * Issue 17: the seed contract driven through the TypeScript client generated
 * from openapi.json (clients/typescript), over real HTTP. Everything here is
 * type-checked against the generated types (eslint's no-unsafe-* rules are on
 * for this file: no `any` reaches it), so a document that drifts from what
 * the service does breaks this file at compile time or at run time.
 */

/** The original page's requests, verbatim: each must satisfy the generated request type. */
const SEED = SEED_EXAMPLES satisfies Record<string, IntegrationInput>;

const MASK = '********';

describe('The generated TypeScript client (clients/typescript)', () => {
  let t: TestApp;
  let baseUrl: string;
  let tenant: string;
  let admin: IntegrationsApi;
  let reader: IntegrationsApi;
  let revealer: IntegrationsApi;

  beforeAll(async () => {
    t = await startTestApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    baseUrl = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    tenant = t.uniqueId('client');
    admin = createIntegrationsClient({ baseUrl, token: adminToken() });
    reader = createIntegrationsClient({ baseUrl, token: token({ scope: 'integrations:read', tenants: [tenant] }) });
    revealer = createIntegrationsClient({
      baseUrl,
      token: () => token({ scope: 'integrations:read integrations:secrets', tenants: [tenant] }),
    });
  });
  afterAll(() => t.close());

  it('creates a tenant', async () => {
    const { data, error, response } = await admin.POST('/tenants', { body: { id: tenant, name: 'Seed tenant' } });
    expect(response.status).toBe(201);
    expect(error).toBeUndefined();
    const created: Tenant | undefined = data;
    expect([created?.id, created?.name]).toEqual([tenant, 'Seed tenant']);
    expect(Date.parse(created?.['created-at'] ?? '')).not.toBeNaN();
    expect(created?.['updated-at']).toBe(created?.['created-at']);
  });

  it.each(Object.keys(SEED) as (keyof typeof SEED)[])('creates the seed %s integration (201), as written', async (id) => {
    const body: IntegrationInput = SEED[id];
    const { data, response } = await admin.POST('/tenants/{iid}/integrations/{id}', { params: { path: { iid: tenant, id } }, body });
    expect(response.status).toBe(201);
    expect(response.headers.get('etag')).toBe('"r1"');
    expect(data).toEqual({ type: id, ...body });
  });

  it("replaces one in the original clients' collection form (200)", async () => {
    const { data, response } = await admin.POST('/tenants/{iid}/integrations', { params: { path: { iid: tenant } }, body: SEED.twilio });
    expect(response.status).toBe(200);
    expect(data).toEqual({ type: 'twilio', ...SEED.twilio });
  });

  it('lists them, sorted, secrets masked, with X-Total-Count', async () => {
    const { data, response } = await reader.GET('/tenants/{iid}/integrations', {
      params: { path: { iid: tenant }, query: { limit: 10, offset: 0 } },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-total-count')).toBe('4');
    const items: Integration[] = data ?? [];
    expect(items.map((item) => item.id)).toEqual(['datasift', 'salesforce', 'sendgrid', 'twilio']);
    const salesforce = items.find((item) => item.id === 'salesforce');
    // `type` discriminates the union: the vendor's own fields are typed after this check.
    if (salesforce?.type !== 'salesforce') throw new Error('no Salesforce integration in the list');
    expect([salesforce['consumer-key'], salesforce['consumer-secret'], salesforce.password, salesforce['secret-token']]).toEqual([
      'consumerkey',
      MASK,
      MASK,
      MASK,
    ]);
  });

  it('gets one masked, and in plaintext with integrations:secrets', async () => {
    const path = { iid: tenant, id: 'datasift' };
    const masked = await reader.GET('/tenants/{iid}/integrations/{id}', { params: { path } });
    expect(masked.data).toEqual({ id: 'datasift', type: 'datasift', username: 'username', 'api-key': MASK });
    const plain = await revealer.GET('/tenants/{iid}/integrations/{id}', { params: { path } });
    expect(plain.data).toEqual({ id: 'datasift', type: 'datasift', username: 'username', 'api-key': 'api-key' });
    expect(plain.response.headers.get('etag')).toBe('"r1"');
  });

  it('PATCHes one field with If-Match, and gets a typed 412 for a stale ETag', async () => {
    const path = { iid: tenant, id: 'twilio' };
    const before = await revealer.GET('/tenants/{iid}/integrations/{id}', { params: { path } });
    const etag = before.response.headers.get('etag') ?? '';
    const patched = await admin.PATCH('/tenants/{iid}/integrations/{id}', {
      params: { path, header: { 'If-Match': etag } },
      body: { account: 'AC123' },
    });
    expect(patched.response.status).toBe(200);
    const twilio = patched.data;
    if (twilio?.type !== 'twilio') throw new Error('PATCH did not answer the Twilio integration');
    expect(twilio.account).toBe('AC123');
    const after = await revealer.GET('/tenants/{iid}/integrations/{id}', { params: { path } });
    expect(after.data).toEqual({ id: 'twilio', type: 'twilio', account: 'AC123', password: 'Token' });

    const stale = await admin.PATCH('/tenants/{iid}/integrations/{id}', {
      params: { path, header: { 'If-Match': etag } },
      body: { account: 'AC456' },
    });
    expect(stale.response.status).toBe(412);
    expect(stale.error?.code).toBe('PRECONDITION_FAILED');
  });

  it('deletes one (204), then answers a typed 404', async () => {
    const path = { iid: tenant, id: 'sendgrid' };
    const deleted = await admin.DELETE('/tenants/{iid}/integrations/{id}', { params: { path } });
    expect(deleted.response.status).toBe(204);
    const gone = await reader.GET('/tenants/{iid}/integrations/{id}', { params: { path } });
    expect(gone.response.status).toBe(404);
    expect(gone.error).toEqual({
      error: `Integration 'sendgrid' does not exist in tenant '${tenant}'`,
      code: 'INTEGRATION_NOT_FOUND',
      requestId: gone.response.headers.get('x-request-id'),
    });
  });

  it("gives a system its own credentials: an API client, a token from POST /token's form body, calls with it, a typed invalid_client", async () => {
    const created = await admin.POST('/tenants/{iid}/api-clients', {
      params: { path: { iid: tenant } },
      body: { name: 'Billing sync', scope: 'integrations:read' },
    });
    expect(created.response.status).toBe(201);
    const client: CreatedApiClient | undefined = created.data;
    if (client === undefined) throw new Error('no API client in the answer');
    // No bearer token: the client authenticates with its own id and secret, here as form fields.
    const anonymous = createIntegrationsClient({ baseUrl });
    // openapi-fetch form-encodes a body by itself when it sees this Content-Type, but under Jest its check of the
    // headers fails (a Headers object of another realm), so the serializer is given here.
    const form = {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      bodySerializer: (body: TokenRequest) => new URLSearchParams(body).toString(),
    } as const;
    const issued = await anonymous.POST('/token', {
      ...form,
      body: { grant_type: 'client_credentials', client_id: client['client-id'], client_secret: client['client-secret'] },
    });
    expect(issued.response.status).toBe(200);
    expect(issued.response.headers.get('cache-control')).toBe('no-store');
    expect([issued.data?.token_type, issued.data?.scope]).toEqual(['Bearer', 'integrations:read']);
    const system = createIntegrationsClient({ baseUrl, token: issued.data?.access_token ?? '' });
    const list = await system.GET('/tenants/{iid}/integrations', { params: { path: { iid: tenant } } });
    expect(list.response.status).toBe(200);
    expect((list.data ?? []).map((item) => item.id)).toEqual(['datasift', 'salesforce', 'twilio']);

    const refused = await anonymous.POST('/token', {
      ...form,
      body: { grant_type: 'client_credentials', client_id: client['client-id'], client_secret: 'not-the-secret' },
    });
    expect(refused.response.status).toBe(401);
    expect(refused.response.headers.get('www-authenticate')).toBe('Basic');
    expect(refused.error).toEqual({
      error: 'invalid_client',
      error_description: 'Client authentication failed',
      requestId: refused.response.headers.get('x-request-id'),
    });
  });

  it('deletes the tenant (204)', async () => {
    const { response } = await admin.DELETE('/tenants/{iid}', { params: { path: { iid: tenant } } });
    expect(response.status).toBe(204);
    const gone = await reader.GET('/tenants/{iid}', { params: { path: { iid: tenant } } });
    expect(gone.error?.code).toBe('TENANT_NOT_FOUND');
  });
});
