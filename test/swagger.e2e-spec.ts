import { startTestApp, type TestApp } from './helpers/test-app';

interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: Record<string, unknown>; examples?: Record<string, unknown> }> }; responses: Record<string, unknown>; security?: unknown[] }>>;
  components: { schemas: Record<string, { properties: Record<string, { writeOnly?: boolean; example?: unknown }> }>; securitySchemes: Record<string, unknown> };
}

describe('OpenAPI and Swagger UI', () => {
  let t: TestApp;
  let doc: OpenApi;

  beforeAll(async () => {
    t = await startTestApp();
    doc = (await t.http().get('/docs-json')).body as OpenApi;
  });
  afterAll(() => t.close());

  it('serves Swagger UI at /docs', async () => {
    const response = await t.http().get('/docs').redirects(1);
    expect(response.status).toBe(200);
    expect(response.text).toMatch(/swagger-ui/i);
  });

  it('is OpenAPI 3 with every route and bearer auth', () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    expect(routes).toEqual(
      expect.arrayContaining([
        'POST /tenants',
        'GET /tenants',
        'GET /tenants/{iid}',
        'PATCH /tenants/{iid}',
        'DELETE /tenants/{iid}',
        'GET /tenants/{iid}/integrations',
        'POST /tenants/{iid}/integrations',
        'GET /tenants/{iid}/integrations/{id}',
        'POST /tenants/{iid}/integrations/{id}',
        'PATCH /tenants/{iid}/integrations/{id}',
        'DELETE /tenants/{iid}/integrations/{id}',
        'GET /integration-types',
        'GET /health/live',
        'GET /health/ready',
      ]),
    );
    const create = doc.paths['/tenants/{iid}/integrations/{id}'].post;
    expect(Object.keys(create.responses)).toEqual(expect.arrayContaining(['200', '201', '400', '401', '403', '404', '412', '413', '415', '429', '500', '503']));
  });

  it('describes integration bodies as oneOf per vendor with a discriminator on type, and the seed examples', () => {
    const body = doc.paths['/tenants/{iid}/integrations/{id}'].post.requestBody!.content['application/json'];
    const schema = body.schema as { oneOf: { $ref: string }[]; discriminator: { propertyName: string; mapping: Record<string, string> } };
    expect(schema.oneOf).toHaveLength(6);
    expect(schema.discriminator.propertyName).toBe('type');
    expect(Object.keys(schema.discriminator.mapping)).toEqual(['salesforce', 'twilio', 'sendgrid', 'datasift', 'pusher', 'urban-airship']);
    expect(schema.discriminator.mapping.twilio).toBe('#/components/schemas/TwilioIntegrationDto');
    expect(body.examples?.twilio).toMatchObject({ value: { id: 'twilio', account: 'SID', password: 'Token' } });
    expect(body.examples?.salesforce).toMatchObject({ value: { 'consumer-key': 'consumerkey', username: 'dev@userevents.com' } });
  });

  it('marks secret fields writeOnly with fake examples', () => {
    const salesforce = doc.components.schemas.SalesforceIntegrationDto.properties;
    for (const field of ['consumer-secret', 'password', 'secret-token']) expect(salesforce[field].writeOnly).toBe(true);
    expect(salesforce.username.writeOnly).toBeUndefined();
    expect(doc.components.schemas.PusherIntegrationDto.properties.secret).toMatchObject({ writeOnly: true, example: 'app-secret' });
  });
});
