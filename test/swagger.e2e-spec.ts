import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openApiJson } from '../src/app.setup';
import { listRoutes } from './helpers/routes';
import { startTestApp, type TestApp } from './helpers/test-app';

interface Schema {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  required?: string[];
  properties?: Record<string, Schema & { writeOnly?: boolean; example?: unknown }>;
  additionalProperties?: boolean | Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  items?: Schema;
  discriminator?: { propertyName: string; mapping: Record<string, string> };
}
interface Media {
  schema: Schema;
  example?: unknown;
  examples?: Record<string, { value: unknown }>;
}
interface Operation {
  parameters?: { name: string; in: string; schema?: Schema }[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, Media> }>;
  security?: unknown[];
}
interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, unknown> };
}

const VENDORS = ['salesforce', 'twilio', 'sendgrid', 'datasift', 'pusher', 'urban-airship'];

describe('OpenAPI and Swagger UI', () => {
  let t: TestApp;
  let doc: OpenApi;
  let served: string;

  beforeAll(async () => {
    t = await startTestApp();
    const response = await t.http().get('/docs-json');
    served = response.text;
    doc = response.body as OpenApi;
  });
  afterAll(() => t.close());

  const operations = (): [string, Operation][] =>
    Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([m, op]): [string, Operation] => [`${m.toUpperCase()} ${path}`, op]),
    );

  it('serves Swagger UI at /docs', async () => {
    const response = await t.http().get('/docs').redirects(1);
    expect(response.status).toBe(200);
    expect(response.text).toMatch(/swagger-ui/i);
  });

  it('is OpenAPI 3 with every route and bearer auth', () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const routes = operations().map(([route]) => route);
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
        'POST /tenants/{iid}/api-clients',
        'GET /tenants/{iid}/api-clients',
        'GET /tenants/{iid}/api-clients/{clientId}',
        'DELETE /tenants/{iid}/api-clients/{clientId}',
        'POST /tenants/{iid}/api-clients/{clientId}/secret',
        'POST /token',
        'POST /oauth/token',
        'GET /.well-known/jwks.json',
        'GET /.well-known/oauth-authorization-server',
      ]),
    );
    // Every route the app serves, read from the controllers, is in the document.
    const served = listRoutes(t.app).map((r) => `${r.method} ${r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    expect(routes).toEqual(expect.arrayContaining(served));
    const create = doc.paths['/tenants/{iid}/integrations/{id}'].post;
    expect(Object.keys(create.responses)).toEqual(
      expect.arrayContaining(['200', '201', '400', '401', '403', '404', '409', '412', '413', '415', '422', '428', '429', '500', '503']),
    );
  });

  it('documents the success statuses with their bodies and headers (issue 17)', () => {
    expect(doc.paths['/tenants'].post.responses['201'].content?.['application/json'].schema).toEqual({
      $ref: '#/components/schemas/TenantResponse',
    });
    expect(doc.paths['/tenants/{iid}'].delete.responses['204']).toBeDefined();
    expect(doc.paths['/tenants/{iid}'].delete.responses['204'].content).toBeUndefined();
    expect(doc.paths['/tenants/{iid}/integrations/{id}'].delete.responses['204']).toBeDefined();
    expect(Object.keys(doc.paths['/tenants/{iid}/integrations/{id}'].get.responses['200'].headers ?? {})).toContain('ETag');
    expect(Object.keys(doc.paths['/tenants/{iid}/integrations'].get.responses['200'].headers ?? {})).toContain('X-Total-Count');
    expect(Object.keys(doc.paths['/tenants'].get.responses['200'].headers ?? {})).toContain('X-Total-Count');
    for (const [route, operation] of operations()) {
      for (const [status, response] of Object.entries(operation.responses)) {
        expect({ route, status, headers: Object.keys(response.headers ?? {}) }).toEqual({
          route,
          status,
          headers: expect.arrayContaining(['X-Request-Id']),
        });
        if (status === '429' || status === '503')
          expect({ route, status, headers: Object.keys(response.headers ?? {}) }).toEqual({
            route,
            status,
            headers: expect.arrayContaining(['Retry-After']),
          });
        if (status === '401')
          expect({ route, status, headers: Object.keys(response.headers ?? {}) }).toEqual({
            route,
            status,
            headers: expect.arrayContaining(['WWW-Authenticate']),
          });
      }
    }
  });

  it('lists the error codes of each status as an enum, with real messages as examples', () => {
    expect(doc.components.schemas.Error404.properties?.code.enum).toEqual([
      'TENANT_NOT_FOUND',
      'INTEGRATION_NOT_FOUND',
      'NOT_VERIFIED',
      'API_CLIENT_NOT_FOUND',
      'VERSION_NOT_FOUND',
      'WEBHOOK_NOT_FOUND',
      'WEBHOOK_DELIVERY_NOT_FOUND',
    ]);
    expect(doc.components.schemas.Error409.properties?.code.enum).toEqual(['TENANT_EXISTS', 'WRITE_CONFLICT', 'NOTHING_TO_RESTORE']);
    const examples = (route: string, status: string) =>
      Object.values(operations().find(([r]) => r === route)![1].responses[status].content!['application/json'].examples ?? {}).map(
        (e) => (e.value as { error: string }).error,
      );
    expect(examples('POST /tenants', '409')).toEqual([
      "Tenant 'acme' already exists",
      "Tenant 'acme' existed and was deleted; its id cannot be reused",
    ]);
    expect(examples('GET /tenants/{iid}/integrations/{id}', '404')).toEqual([
      "Tenant 'acme' does not exist or has been deleted",
      "Integration 'twilio' does not exist in tenant 'acme'",
    ]);
    expect(examples('GET /tenants', '401')).toContain('Missing bearer token (Authorization: Bearer <JWT>)');
    // A self-issued token of a deleted API client (issue 13), on every protected route.
    for (const [route, operation] of operations()) {
      if (operation.responses['401'] === undefined || route.endsWith('/token')) continue;
      expect({ route, examples: examples(route, '401') }).toEqual({
        route,
        examples: expect.arrayContaining(['Token has been revoked: its API client was deleted']),
      });
    }
    expect(examples('GET /tenants', '429')).toEqual(['Rate limit reached; retry after 42 s']);
    expect(examples('POST /tenants/{iid}/integrations', '409')).toEqual([
      'The integration kept changing while this write was retried; send it again',
    ]);
  });

  it('gives every example the shape of its schema', () => {
    const problems: string[] = [];
    for (const [route, operation] of operations()) {
      for (const [name, example] of Object.entries(operation.requestBody?.content['application/json']?.examples ?? {})) {
        const error = t.contract.validateSchema(operation.requestBody!.content['application/json'].schema, example.value, 'request');
        if (error) problems.push(`${route} request example ${name}: ${error}`);
      }
      for (const [status, response] of Object.entries(operation.responses)) {
        const media = response.content?.['application/json'];
        if (media === undefined) continue;
        const values = [
          ...Object.entries(media.examples ?? {}).map(([n, e]): [string, unknown] => [n, e.value]),
          ...(media.example ? [['example', media.example] as [string, unknown]] : []),
        ];
        for (const [name, value] of values) {
          const error = t.contract.validateSchema(media.schema, value);
          if (error) problems.push(`${route} ${status} example ${name}: ${error}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('documents the token endpoint as RFC 6749 has it: a form body, §5.2 error bodies by status, its other failures in the API format (issue 13)', () => {
    for (const path of ['/token', '/oauth/token']) {
      const operation = doc.paths[path].post;
      expect(Object.keys(operation.requestBody!.content)).toEqual(['application/x-www-form-urlencoded']);
      expect(operation.requestBody!.content['application/x-www-form-urlencoded'].schema).toEqual({
        $ref: '#/components/schemas/TokenRequest',
      });
      // HTTP Basic, or the client_id and client_secret form fields (no Authorization header).
      expect(operation.security).toEqual([{ client: [] }, {}]);
      expect(Object.keys(operation.responses)).toEqual(['200', '400', '401', '413', '415', '429', '500', '503']);
      const schemaOf = (status: string) => operation.responses[status].content?.['application/json'].schema;
      expect(schemaOf('200')).toEqual({ $ref: '#/components/schemas/TokenResponse' });
      expect(Object.keys(operation.responses['200'].headers ?? {}).sort()).toEqual(['Cache-Control', 'Pragma', 'X-Request-Id']);
      expect(schemaOf('400')).toEqual({ $ref: '#/components/schemas/OAuthError400' });
      expect(schemaOf('401')).toEqual({ $ref: '#/components/schemas/OAuthError401' });
      expect(operation.responses['401'].headers?.['WWW-Authenticate']).toMatchObject({ required: true, schema: { enum: ['Basic'] } });
      for (const status of ['413', '415', '429', '500', '503'])
        expect(schemaOf(status)).toEqual({ $ref: `#/components/schemas/Error${status}` });
    }
    const { TokenRequest, OAuthError400, OAuthError401 } = doc.components.schemas;
    expect(TokenRequest).toMatchObject({ type: 'object', required: ['grant_type'] });
    expect(Object.keys(TokenRequest.properties ?? {})).toEqual(['grant_type', 'scope', 'client_id', 'client_secret']);
    expect(OAuthError400).toMatchObject({ additionalProperties: false, required: ['error', 'error_description', 'requestId'] });
    expect(OAuthError400.properties?.error.enum).toEqual(['invalid_request', 'invalid_grant', 'unsupported_grant_type', 'invalid_scope']);
    expect(OAuthError401.properties?.error.enum).toEqual(['invalid_client']);
    expect(doc.components.schemas.CreateApiClientDto).toMatchObject({ additionalProperties: false, required: ['name', 'scope'] });
  });

  it('describes integration bodies as anyOf of closed per-vendor schemas, type a one-value enum, with the seed examples', () => {
    const body = doc.paths['/tenants/{iid}/integrations/{id}'].post.requestBody!.content['application/json'];
    expect(body.schema).toEqual({ $ref: '#/components/schemas/IntegrationInput' });
    const input = doc.components.schemas.IntegrationInput;
    expect(input.anyOf?.map((s) => s.$ref)).toEqual([
      '#/components/schemas/SalesforceIntegrationInput',
      '#/components/schemas/TwilioIntegrationInput',
      '#/components/schemas/SendgridIntegrationInput',
      '#/components/schemas/DatasiftIntegrationInput',
      '#/components/schemas/PusherIntegrationInput',
      '#/components/schemas/UrbanAirshipIntegrationInput',
    ]);
    const twilio = doc.components.schemas.TwilioIntegrationInput;
    expect(twilio).toMatchObject({ type: 'object', additionalProperties: false, required: ['account', 'password'] });
    expect(twilio.properties?.type).toMatchObject({ type: 'string', enum: ['twilio'] });
    // The collection form (id in the body) requires the id.
    expect(doc.paths['/tenants/{iid}/integrations'].post.requestBody!.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/IntegrationInputWithId',
    });
    expect(doc.components.schemas.TwilioIntegrationInputWithId.required).toEqual(['id', 'account', 'password']);
    expect(doc.paths['/tenants/{iid}/integrations/{id}'].patch.requestBody!.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/IntegrationPatch',
    });
    expect(doc.components.schemas.SalesforceIntegrationPatch.required).toBeUndefined();
    expect(body.examples?.twilio).toMatchObject({ value: { id: 'twilio', account: 'SID', password: 'Token' } });
    expect(body.examples?.salesforce).toMatchObject({ value: { 'consumer-key': 'consumerkey', username: 'dev@userevents.com' } });
  });

  it('describes integration responses as oneOf per vendor with a discriminator on type', () => {
    const schema = doc.components.schemas.Integration;
    expect(schema.oneOf).toHaveLength(6);
    expect(schema.discriminator?.propertyName).toBe('type');
    expect(Object.keys(schema.discriminator!.mapping)).toEqual(VENDORS);
    expect(schema.discriminator!.mapping.twilio).toBe('#/components/schemas/TwilioIntegration');
    expect(doc.components.schemas.TwilioIntegration).toMatchObject({
      additionalProperties: false,
      required: ['id', 'type', 'account', 'password'],
    });
  });

  it('marks secret fields writeOnly in requests with fake examples, and not in responses (they come back masked or revealed)', () => {
    const salesforce = doc.components.schemas.SalesforceIntegrationInput.properties!;
    for (const field of ['consumer-secret', 'password', 'secret-token']) expect(salesforce[field].writeOnly).toBe(true);
    expect(salesforce.username.writeOnly).toBeUndefined();
    expect(doc.components.schemas.PusherIntegrationInput.properties!.secret).toMatchObject({ writeOnly: true, example: 'app-secret' });
    const response = doc.components.schemas.SalesforceIntegration.properties!;
    for (const field of ['consumer-secret', 'password', 'secret-token']) expect(response[field].writeOnly).toBeUndefined();
  });

  it('closes every object schema: an undocumented field is a disagreement', () => {
    const open: string[] = [];
    const walk = (schema: Schema | undefined, where: string): void => {
      if (schema === undefined || typeof schema !== 'object') return;
      if (schema.type === 'object' && schema.properties !== undefined && schema.additionalProperties === undefined) open.push(where);
      for (const [name, property] of Object.entries(schema.properties ?? {})) walk(property, `${where}.${name}`);
      for (const [i, branch] of [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])].entries()) walk(branch, `${where}[${i}]`);
      walk(schema.items, `${where}[]`);
      if (typeof schema.additionalProperties === 'object') walk(schema.additionalProperties, `${where}{}`);
    };
    for (const [name, schema] of Object.entries(doc.components.schemas)) walk(schema, name);
    for (const [route, operation] of operations()) {
      for (const [status, response] of Object.entries(operation.responses))
        walk(response.content?.['application/json']?.schema, `${route} ${status}`);
    }
    expect(open).toEqual([]);
  });

  it('is the openapi.json committed at the repository root (npm run openapi writes it)', () => {
    const committed = readFileSync(join(__dirname, '..', 'openapi.json'), 'utf8');
    // Byte for byte: key order and formatting included, so a review sees exactly what the service serves.
    if (committed !== openApiJson(doc as never) || JSON.stringify(JSON.parse(committed)) !== served) {
      throw new Error('openapi.json differs from what the service serves at /docs-json: run `npm run openapi` and commit it');
    }
  });
});
