import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppModule } from './app.module';
import { auditSchemas } from './audit/audit.wire';
import { clientSchemas } from './clients/clients.openapi';
import { registerFormParser } from './clients/form-body';
import { sendError } from './common/filters/all-exceptions.filter';
import { errorSchemas, headerComponents, oauthErrorSchemas } from './common/openapi';
import { securityHeaders } from './common/security-headers';
import { integrationSchemas } from './integrations/integrations.openapi';
import { versionSchemas } from './integrations/history/versions.openapi';
import type { Configuration } from './config/configuration';
import { AppLogger } from './logging/app.logger';
import { registerRequestLogging } from './logging/logging.module';

/**
 * The original API's version prefix (its documents call `/1.0/tenants/…`):
 * every route also answers under it, with the same handlers (issue 13).
 */
export const VERSION_PREFIX = '/1.0';

/**
 * Fastify's `rewriteUrl` runs before routing, so `/1.0/…` reaches the very
 * route `/…` does, with its guards, pipes and error handling; `request.url`
 * is then the path without the prefix (`request.originalUrl` keeps it).
 * `/1.0` alone and `/1.0?…` are the root, as `/` is.
 */
export function withoutVersionPrefix(url: string): string {
  if (!url.startsWith(VERSION_PREFIX)) return url;
  const rest = url.slice(VERSION_PREFIX.length);
  if (rest === '' || rest.startsWith('?')) return `/${rest}`;
  return rest.startsWith('/') ? rest : url;
}

/** A client's X-Request-Id is kept only when it is short and plain (it goes into logs). */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

function requestId(raw: IncomingMessage): string {
  const sent = raw.headers['x-request-id'];
  return typeof sent === 'string' && CLIENT_REQUEST_ID.test(sent) ? sent : randomUUID();
}

export function createAdapter(config: Configuration): FastifyAdapter {
  const security = securityHeaders();
  const logger = new Logger('Errors');
  return new FastifyAdapter({
    bodyLimit: config.app.bodyLimit,
    genReqId: requestId,
    trustProxy: false,
    // Fastify answers over-long path segments itself, outside our error format;
    // let them through to the id pipes, which answer 400 in the usual shape.
    routerOptions: { maxParamLength: 16_384 },
    // What the router refuses before any hook runs (a percent-escape that does not decode, a path
    // segment over maxParamLength) would otherwise get Fastify's own body, without our headers.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      reply.headers(security).header('x-request-id', request.id);
      sendError(reply, request, error, logger);
    },
    rewriteUrl: (raw: IncomingMessage) => withoutVersionPrefix(raw.url ?? '/'),
  });
}

/** Request and response DTOs whose schemas Nest derives from the class: closed, like the service (unknown fields are refused). */
const CLOSED_DTO_SCHEMAS = [
  'CreateTenantDto',
  'UpdateTenantDto',
  'TenantResponse',
  'CreateApiClientDto',
  'ApiClientResponse',
  'CreatedApiClientResponse',
  'RotatedApiClientResponse',
  'CreateWebhookDto',
  'UpdateWebhookDto',
  'WebhookResponse',
  'WebhookWithSecretResponse',
  'WebhookDeliveryResponse',
  'WebhookTestResponse',
];

/**
 * The OpenAPI document, a contract (issue 17): Nest's scan of the controllers,
 * plus the schemas derived from the vendor registry and the error and header
 * components the decorators refer to, in a canonical key order so that
 * `openapi.json` (written by `npm run openapi`) is byte-for-byte what
 * `/docs-json` serves. Every answer of the e2e suites is checked against it.
 */
export function buildOpenApiDocument(app: NestFastifyApplication): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle('Integrations API')
    .setDescription(
      "Each tenant's third-party vendor credentials (Salesforce, Twilio, SendGrid, DataSift, Pusher, Urban Airship), " +
        'encrypted at rest, in the original flat kebab-case wire format. Authorize with a bearer token ' +
        '(`npm run token -- --scope platform:admin` prints one in development). Every error is ' +
        '`{"error": message, "code", "details"?, "requestId"}`; every answer carries `X-Request-Id`.',
    )
    .setVersion('1')
    // Every path also answers under /1.0 (the original's prefix): said once, as a second server, not every route twice.
    .addServer('/', 'This service')
    .addServer(VERSION_PREFIX, "The same routes under the original API's /1.0 prefix")
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    // POST /token: an API client authenticates with its id and secret (RFC 6749 §2.3.1).
    .addBasicAuth({ type: 'http', scheme: 'basic', description: 'API client id and secret, for POST /token' }, 'client')
    .build();
  const document = SwaggerModule.createDocument(app, builder);
  const schemas = {
    ...document.components?.schemas,
    ...errorSchemas(),
    ...oauthErrorSchemas(),
    ...integrationSchemas(),
    ...clientSchemas(),
    ...auditSchemas(),
    ...versionSchemas(),
  };
  for (const name of CLOSED_DTO_SCHEMAS) {
    const schema = schemas[name];
    if (schema && !('$ref' in schema)) schema.additionalProperties = false;
  }
  document.components = { ...document.components, schemas, headers: { ...document.components?.headers, ...headerComponents() } };
  return canonicalOrder(document);
}

/** The document as `openapi.json` holds it: two-space JSON with a final newline. */
export function openApiJson(document: OpenAPIObject): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** Maps whose order means something: a schema's fields (the wire format's order), named examples, a discriminator's vendors. */
const KEEP_ORDER = new Set(['properties', 'examples', 'mapping']);
/** Values shown as written. */
const AS_WRITTEN = new Set(['example', 'value', 'default']);

/**
 * Object keys sorted, so the document does not churn when decorators move;
 * except in KEEP_ORDER maps and AS_WRITTEN values.
 */
function canonicalOrder<T>(node: T, parentKey?: string): T {
  if (Array.isArray(node)) return node.map((item: unknown) => canonicalOrder(item)) as T;
  if (typeof node !== 'object' || node === null) return node;
  if (parentKey !== undefined && AS_WRITTEN.has(parentKey)) return node;
  const keepOrder = parentKey !== undefined && KEEP_ORDER.has(parentKey);
  const entries = Object.entries(node as Record<string, unknown>);
  if (!keepOrder) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([key, value]) => [key, canonicalOrder(value, keepOrder ? undefined : key)])) as T;
}

/**
 * What main.ts and the e2e tests both apply: security headers, CORS, limits,
 * request ids, no-store caching, Swagger, shutdown hooks. Returns the app
 * initialised but not listening.
 */
export async function createApp(config: Configuration): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), createAdapter(config), {
    bufferLogs: true,
    abortOnError: false,
    // Only Fastify's own JSON parser: Nest's would add form-urlencoded bodies.
    bodyParser: false,
  });
  app.useLogger(app.get(AppLogger));
  // SIGTERM/SIGINT: stop listening, let in-flight requests finish, close the database, then exit 0
  // (without useProcessExit Nest re-raises the signal, and the orchestrator sees a crash, not a clean stop).
  app.enableShutdownHooks([], { useProcessExit: true });
  await configureApp(app, config);
  await app.init();
  return app;
}

export async function configureApp(app: NestFastifyApplication, config: Configuration): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  // JSON only: any other body is a 415 (Fastify would otherwise accept text/plain as a string),
  // except the form-encoded body of the OAuth token endpoint (RFC 6749 §4.4.2), on that route alone.
  fastify.removeContentTypeParser('text/plain');
  registerFormParser(fastify);
  if (config.app.corsOrigins.length > 0) {
    app.enableCors({ origin: config.app.corsOrigins, exposedHeaders: ['ETag', 'X-Total-Count', 'X-Request-Id'] });
  }
  const security = securityHeaders();
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.headers(security).header('x-request-id', request.id);
    // Any API response may carry a secret: no cache may keep it. Swagger's static files may be cached.
    if (!request.url.startsWith('/docs')) reply.header('cache-control', 'no-store');
    done();
  });
  registerRequestLogging(fastify, config.app.logRequests);
  // Built on the first request to /docs or /docs-json, then kept: a start that nobody browses
  // does not pay for scanning every route (about 100 ms of the cold start, and its memory).
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    swaggerOptions: { persistAuthorization: true },
    customSiteTitle: 'Integrations API',
  });
}
