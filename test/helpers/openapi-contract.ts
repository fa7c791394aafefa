import type {
  HeaderObject,
  OpenAPIObject,
  OperationObject,
  ParameterObject,
  ReferenceObject,
  RequestBodyObject,
  ResponseObject,
  SchemaObject,
} from '@nestjs/swagger';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { PassThrough, Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { FormParameters } from '../../src/clients/form-body';
import { securityHeaders } from '../../src/common/security-headers';

/*
 * The OpenAPI document as a contract the e2e suites keep (issue 17): an
 * Ajv-based validator over the document the app serves, and a Fastify onSend
 * hook (installed by startTestApp) that checks every answer — supertest,
 * app.inject and fetch alike — and, for a 2xx, the request that got it.
 * What disagrees is recorded; test/helpers/contract-setup.ts fails the test
 * that produced it. An undocumented status, header or field is a disagreement.
 */

type Json = Record<string, unknown>;
type Schema = SchemaObject | ReferenceObject;

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** Newline-delimited JSON (the audit export): checked line by line against the media type's schema. */
const NDJSON = 'application/x-ndjson';

/**
 * Headers that are HTTP's or the platform's rather than the API's: transport,
 * caching, CORS and the security headers (helmet's, from the service's own
 * list). Any other header an answer carries must be in the document.
 */
const TRANSPORT_HEADERS = new Set([
  'content-type',
  'content-length',
  'date',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'cache-control',
  'vary',
  ...Object.keys(securityHeaders()).map((name) => name.toLowerCase()),
]);
const isTransportHeader = (name: string): boolean => TRANSPORT_HEADERS.has(name) || name.startsWith('access-control-');

interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  params: string[];
  operation: OperationObject;
}

/** An exchange as the hook sees it. */
export interface Exchange {
  method: string;
  /** Path and query, as sent (under any of the document's servers: `/1.0/tenants` as well as `/tenants`). */
  url: string;
  /** The parsed request body (Fastify's `request.body`; a form body as its fields). */
  requestBody: unknown;
  /** The request's media type, without parameters: which of the operation's request schemas applies. JSON when left out. */
  requestContentType?: string;
  status: number;
  headers: Record<string, string | number | string[] | undefined>;
  /** The serialized response body; undefined for a stream (static files). */
  payload: string | undefined;
}

/**
 * OpenAPI 3.0 schema → JSON Schema (draft-07) for Ajv: `nullable` becomes a
 * null type, annotations Ajv does not know go, component refs point into one
 * schema holding them. In a response, writeOnly properties are dropped (and
 * readOnly ones in a request), as OpenAPI says and validating proxies do: a
 * secret marked writeOnly that came back in a closed response would fail.
 */
function toJsonSchema(schema: unknown, direction: 'request' | 'response'): unknown {
  if (Array.isArray(schema)) return schema.map((item) => toJsonSchema(item, direction));
  if (typeof schema !== 'object' || schema === null) return schema;
  const source = schema as Json;
  const out: Json = {};
  for (const [key, value] of Object.entries(source)) {
    if (key === 'example' || key === 'examples' || key === 'discriminator' || key === 'xml' || key === 'externalDocs' || key === 'nullable')
      continue;
    if (key.startsWith('x-')) continue;
    if (key === '$ref' && typeof value === 'string') {
      out.$ref = value.replace('#/components/schemas/', 'openapi#/definitions/');
    } else if (key === 'properties' && typeof value === 'object' && value !== null) {
      const hidden = direction === 'response' ? 'writeOnly' : 'readOnly';
      const properties: Json = {};
      for (const [name, property] of Object.entries(value as Json)) {
        if ((property as Json)[hidden] === true) continue;
        properties[name] = toJsonSchema(property, direction);
      }
      out.properties = properties;
    } else if (key === 'required' && Array.isArray(value)) {
      const properties = (source.properties ?? {}) as Record<string, Json>;
      const hidden = direction === 'response' ? 'writeOnly' : 'readOnly';
      out.required = value.filter((name: string) => properties[name]?.[hidden] !== true);
    } else if (typeof value === 'object' && value !== null && key !== 'enum' && key !== 'default' && key !== 'const') {
      out[key] = toJsonSchema(value, direction);
    } else {
      out[key] = value;
    }
  }
  if (source.nullable === true) {
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    if (Array.isArray(out.enum)) out.enum = [...(out.enum as unknown[]), null];
    if (out.type === undefined && out.$ref !== undefined) return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

function newAjv(options: { coerceTypes?: boolean } = {}): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    strictTypes: false,
    strictRequired: false,
    coerceTypes: options.coerceTypes ?? false,
  });
  addFormats(ajv);
  // OpenAPI's hint for a UI to hide the value; nothing to check.
  ajv.addFormat('password', true);
  return ajv;
}

function describeErrors(errors: ErrorObject[] | null | undefined, limit = 8): string {
  const lines = (errors ?? []).map((e) => {
    const extra =
      e.keyword === 'additionalProperties'
        ? ` (${String((e.params as { additionalProperty: string }).additionalProperty)})`
        : e.keyword === 'enum'
          ? ` (${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)})`
          : '';
    return `${e.instancePath || '/'} ${e.message ?? e.keyword}${extra}`;
  });
  const unique = [...new Set(lines)];
  return unique.slice(0, limit).join('; ') + (unique.length > limit ? `; … ${unique.length - limit} more` : '');
}

const clip = (text: string, max = 300): string => (text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text);

/** The document, compiled for checking exchanges against it. */
export class OpenApiContract {
  private readonly routes: Route[] = [];
  /** The path of each of the document's servers (`''` for `/`, `/1.0`), longest first. */
  private readonly basePaths: string[];
  private readonly bodies: Ajv;
  private readonly requests: Ajv;
  private readonly values = newAjv({ coerceTypes: true });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(readonly document: OpenAPIObject) {
    const schemas = Object.entries(document.components?.schemas ?? {});
    const definitions = (direction: 'request' | 'response'): Json =>
      Object.fromEntries(schemas.map(([name, schema]) => [name, toJsonSchema(schema, direction)]));
    this.bodies = newAjv();
    this.bodies.addSchema({ $id: 'openapi', definitions: definitions('response') });
    this.requests = newAjv();
    this.requests.addSchema({ $id: 'openapi', definitions: definitions('request') });
    for (const [template, item] of Object.entries(document.paths)) {
      for (const method of METHODS) {
        const operation = item[method];
        if (operation === undefined) continue;
        const params: string[] = [];
        const source = template
          .split('/')
          .map((segment) => {
            const match = /^\{(.+)\}$/.exec(segment);
            if (!match) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
            params.push(match[1]);
            return '([^/]+)';
          })
          .join('/');
        this.routes.push({ method: method.toUpperCase(), template, pattern: new RegExp(`^${source}$`), params, operation });
      }
    }
    // A literal segment wins over a parameter (`/tenants/{iid}/integrations` before `/tenants/{iid}/{x}`).
    this.routes.sort((a, b) => a.params.length - b.params.length);
    const servers = document.servers?.length ? document.servers : [{ url: '/' }];
    this.basePaths = [...new Set(servers.map((server) => new URL(server.url, 'http://server.invalid').pathname.replace(/\/+$/, '')))].sort(
      (a, b) => b.length - a.length,
    );
  }

  /**
   * The path a request names under each server whose path it starts with
   * (OpenAPI: the server URL, then the path), the longest server path first:
   * `/1.0/tenants` is `/tenants` under the `/1.0` server, and `/1.0/tenants` under `/`.
   */
  private pathsUnderServers(path: string): string[] {
    const paths: string[] = [];
    for (const base of this.basePaths) {
      if (base === '') paths.push(path);
      else if (path === base) paths.push('/');
      else if (path.startsWith(`${base}/`)) paths.push(path.slice(base.length));
    }
    return paths;
  }

  /** The documented operation of a request, with its raw path parameters. */
  route(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const match = route.pattern.exec(path);
      if (match) return { route, params: Object.fromEntries(route.params.map((name, i) => [name, match[i + 1]])) };
    }
    return undefined;
  }

  /** Problems of one exchange: the answer always, the request too when it was accepted (2xx). */
  check(exchange: Exchange): string[] {
    const method = exchange.method.toUpperCase();
    // HEAD mirrors GET and OPTIONS is CORS's preflight: not API operations.
    if (method === 'HEAD' || method === 'OPTIONS') return [];
    const [path, query = ''] = exchange.url.split(/\?(.*)/s, 2);
    const paths = this.pathsUnderServers(path);
    if (paths.some((p) => p === '/docs' || p.startsWith('/docs/') || p === '/docs-json')) return [];
    const found = paths.map((p) => this.route(method, p)).find((match) => match !== undefined);
    const where = `${method} ${clip(exchange.url, 120)} → ${exchange.status}`;
    if (found === undefined) {
      // Only the router's own "No route" answer may come from outside the document.
      const body = parseJson(exchange.payload);
      return exchange.status === 404 && (body as Json | undefined)?.code === 'NOT_FOUND'
        ? []
        : [`${where}: no such operation in the document`];
    }
    const problems = this.checkResponse(found.route, exchange).map((p) => `${where}: ${p}`);
    if (exchange.status >= 200 && exchange.status < 300) {
      problems.push(
        ...this.checkRequest(found.route, found.params, query, exchange.requestBody, exchange.requestContentType ?? 'application/json').map(
          (p) => `${where}: request ${p}`,
        ),
      );
    }
    return problems;
  }

  private checkResponse(route: Route, exchange: Exchange): string[] {
    const responses = route.operation.responses as Record<string, ResponseObject | ReferenceObject>;
    const response = (responses[String(exchange.status)] ?? responses[`${String(exchange.status)[0]}XX`] ?? responses.default) as
      ResponseObject | undefined;
    if (response === undefined)
      return [`status ${exchange.status} is not documented for ${route.method} ${route.template} (body ${clip(exchange.payload ?? '')})`];
    const problems: string[] = [];

    const documented = new Map<string, HeaderObject>();
    for (const [name, header] of Object.entries(response.headers ?? {})) documented.set(name.toLowerCase(), this.resolveHeader(header));
    for (const [name, header] of documented) {
      const value = exchange.headers[name];
      if (value === undefined) {
        if (header.required) problems.push(`header ${name} is required by the document and missing`);
        continue;
      }
      const error = this.checkValue(header.schema, String(value));
      if (error) problems.push(`header ${name}: ${JSON.stringify(String(value))} ${error}`);
    }
    for (const name of Object.keys(exchange.headers)) {
      const lower = name.toLowerCase();
      if (!documented.has(lower) && !isTransportHeader(lower)) problems.push(`header ${lower} is not documented`);
    }

    const content = response.content;
    if (exchange.payload === undefined) return problems;
    if (content === undefined) {
      if (exchange.payload !== '') problems.push(`a body where the document has none: ${clip(exchange.payload)}`);
      return problems;
    }
    const mediaType = String(exchange.headers['content-type'] ?? '')
      .split(';')[0]
      .trim();
    const media = content[mediaType];
    if (media === undefined)
      return [...problems, `content type ${mediaType || '(none)'} is not documented (${Object.keys(content).join(', ')})`];
    const validate = this.compile(this.bodies, `response ${route.method} ${route.template} ${exchange.status} ${mediaType}`, media.schema);
    if (mediaType === NDJSON) {
      // Newline-delimited JSON: the media type's schema is the whole body's (text), its x-itemSchema each
      // line's (OpenAPI 3.2's itemSchema), and every line ends with a newline.
      if (!validate(exchange.payload)) problems.push(`the NDJSON body does not match its schema: ${describeErrors(validate.errors)}`);
      const itemSchema = (media as { 'x-itemSchema'?: Schema })['x-itemSchema'];
      if (itemSchema === undefined) return [...problems, `the ${NDJSON} answer has no x-itemSchema (the schema of each line)`];
      const validateItem = this.compile(
        this.bodies,
        `response ${route.method} ${route.template} ${exchange.status} ${mediaType} item`,
        itemSchema,
      );
      if (exchange.payload !== '' && !exchange.payload.endsWith('\n')) problems.push('the NDJSON body does not end with a newline');
      const lines = exchange.payload.split('\n').slice(0, -1);
      lines.forEach((line, index) => {
        const item = parseJson(line);
        if (item === undefined) problems.push(`NDJSON line ${index + 1} is not JSON: ${clip(line)}`);
        else if (!validateItem(item))
          problems.push(`NDJSON line ${index + 1} ${clip(line)} does not match: ${describeErrors(validateItem.errors)}`);
      });
      return problems;
    }
    const body = parseJson(exchange.payload);
    if (body === undefined) return [...problems, `the body is not JSON: ${clip(exchange.payload)}`];
    if (!validate(body)) problems.push(`body ${clip(exchange.payload)} does not match: ${describeErrors(validate.errors)}`);
    return problems;
  }

  private checkRequest(route: Route, rawParams: Record<string, string>, query: string, body: unknown, mediaType: string): string[] {
    const problems: string[] = [];
    const parameters = (route.operation.parameters ?? []) as ParameterObject[];
    for (const [name, raw] of Object.entries(rawParams)) {
      const parameter = parameters.find((p) => p.in === 'path' && p.name === name);
      if (parameter === undefined) {
        problems.push(`path parameter ${name} is not documented`);
        continue;
      }
      let value: string;
      try {
        value = decodeURIComponent(raw);
      } catch {
        value = raw;
      }
      const error = this.checkValue(parameter.schema, value);
      if (error) problems.push(`path parameter ${name}=${JSON.stringify(clip(value, 80))} ${error}`);
    }
    const sent = new URLSearchParams(query);
    for (const name of new Set(sent.keys())) {
      const parameter = parameters.find((p) => p.in === 'query' && p.name === name);
      if (parameter === undefined) {
        problems.push(`query parameter ${name} is not documented`);
        continue;
      }
      const error = this.checkValue(parameter.schema, sent.get(name) ?? '');
      if (error) problems.push(`query parameter ${name}=${JSON.stringify(sent.get(name))} ${error}`);
    }
    for (const parameter of parameters) {
      if (parameter.in === 'query' && parameter.required && !sent.has(parameter.name))
        problems.push(`query parameter ${parameter.name} is required`);
    }
    const requestBody = route.operation.requestBody as RequestBodyObject | undefined;
    if (requestBody === undefined) return problems;
    if (body === undefined || body === null) {
      if (requestBody.required) problems.push('body is required by the document and was not sent');
      return problems;
    }
    const errors = this.requestBodyErrors(route, body, mediaType);
    if (errors) problems.push(`body ${clip(JSON.stringify(body))} does not match: ${errors}`);
    return problems;
  }

  /** Why a request body (of a media type, JSON unless said) does not match the operation's request schema for it, or undefined when it does. */
  requestBodyErrors(route: Route, body: unknown, mediaType = 'application/json'): string | undefined {
    const requestBody = route.operation.requestBody as RequestBodyObject | undefined;
    const media = requestBody?.content[mediaType];
    if (media?.schema === undefined) return `the operation documents no ${mediaType} body`;
    const validate = this.compile(this.requests, `request ${route.method} ${route.template} ${mediaType}`, media.schema);
    return validate(body) ? undefined : describeErrors(validate.errors);
  }

  /** Why `body` is not a valid request body of `method template` (e.g. `POST /tenants/{iid}/integrations`), or undefined. */
  validateRequestBody(method: string, template: string, body: unknown, mediaType = 'application/json'): string | undefined {
    const route = this.routes.find((r) => r.method === method && r.template === template);
    if (route === undefined) throw new Error(`no operation ${method} ${template} in the document`);
    return this.requestBodyErrors(route, body, mediaType);
  }

  /** Why `value` does not match an OpenAPI schema, or undefined when it does. */
  validateSchema(schema: Schema, value: unknown, direction: 'request' | 'response' = 'response'): string | undefined {
    const validate = this.compile(direction === 'request' ? this.requests : this.bodies, `adhoc ${JSON.stringify(schema)}`, schema);
    return validate(value) ? undefined : describeErrors(validate.errors);
  }

  private compile(ajv: Ajv, key: string, schema: Schema | undefined): ValidateFunction {
    const cacheKey = `${ajv === this.requests ? 'request' : 'response'} ${key}`;
    let validate = this.compiled.get(cacheKey);
    if (validate === undefined) {
      validate = ajv.compile(toJsonSchema(schema ?? {}, ajv === this.requests ? 'request' : 'response') as Json);
      this.compiled.set(cacheKey, validate);
    }
    return validate;
  }

  /** A header or parameter value (always text) against its schema, numbers and booleans coerced. */
  private checkValue(schema: Schema | undefined, value: string): string | undefined {
    const key = `value ${JSON.stringify(schema)}`;
    let validate = this.compiled.get(key);
    if (validate === undefined) {
      validate = this.values.compile({ type: 'object', properties: { value: toJsonSchema(schema ?? {}, 'request') as Json } });
      this.compiled.set(key, validate);
    }
    return validate({ value }) ? undefined : describeErrors(validate.errors);
  }

  private resolveHeader(header: HeaderObject | ReferenceObject): HeaderObject {
    if (!('$ref' in header)) return header;
    const name = header.$ref.replace('#/components/headers/', '');
    const resolved = this.document.components?.headers?.[name];
    if (resolved === undefined || '$ref' in resolved) throw new Error(`unresolved header ${header.$ref}`);
    return resolved;
  }
}

function parseJson(payload: string | undefined): unknown {
  if (payload === undefined || payload === '') return undefined;
  try {
    return JSON.parse(payload) as unknown;
  } catch {
    return undefined;
  }
}

// ---- violations, shared with the jest setup file (test/helpers/contract-setup.ts) ----

const VIOLATIONS = Symbol.for('integrations-api.contract-violations');
type WithViolations = typeof globalThis & { [VIOLATIONS]?: string[] };

export function recordViolations(problems: readonly string[]): void {
  const store = ((globalThis as WithViolations)[VIOLATIONS] ??= []);
  store.push(...problems);
}

/** The disagreements recorded since the last call, cleared. */
export function takeViolations(): string[] {
  const store = (globalThis as WithViolations)[VIOLATIONS] ?? [];
  (globalThis as WithViolations)[VIOLATIONS] = [];
  return store;
}

/** One compiled contract per document text in this test file (suites that boot several apps share it). */
const contracts = new Map<string, OpenApiContract>();

export function contractFor(document: OpenAPIObject): OpenApiContract {
  const text = JSON.stringify(document);
  let contract = contracts.get(text);
  if (contract === undefined) {
    contract = new OpenApiContract(document);
    contracts.set(text, contract);
  }
  return contract;
}

/**
 * Checks every answer of this Fastify instance against the contract (call
 * before `ready()`). Runs last of the onSend hooks, on the payload as sent;
 * never changes the answer, only records what disagrees.
 */
export function installContractCheck(fastify: FastifyInstance, contract: OpenApiContract): void {
  fastify.addHook('onSend', (request, reply, payload, done) => {
    const check = (text: string | undefined): void => {
      try {
        const problems = contract.check({
          method: request.method,
          // As sent: under /1.0 too (request.url is the path after rewriteUrl took the prefix off).
          url: request.originalUrl,
          requestBody: request.body instanceof FormParameters ? request.body.fields() : request.body,
          requestContentType:
            String(request.headers['content-type'] ?? '')
              .split(';')[0]
              .trim()
              .toLowerCase() || undefined,
          status: reply.statusCode,
          headers: reply.getHeaders(),
          payload: text,
        });
        if (problems.length > 0) recordViolations(problems);
      } catch (error) {
        recordViolations([`${request.method} ${request.url}: the contract check failed: ${(error as Error).stack ?? String(error)}`]);
      }
    };
    const mediaType = String(reply.getHeader('content-type') ?? '')
      .split(';')[0]
      .trim();
    if (payload instanceof Readable && mediaType === NDJSON) {
      // A streamed export: checked when it ends, on the text as sent, which passes through unchanged.
      const chunks: Buffer[] = [];
      const tee = new PassThrough();
      payload.on('data', (chunk: Buffer | string) => chunks.push(Buffer.from(chunk)));
      payload.on('end', () => check(Buffer.concat(chunks).toString('utf8')));
      payload.on('error', (error) => tee.destroy(error));
      payload.pipe(tee);
      done(null, tee);
      return;
    }
    check(typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : payload == null ? '' : undefined);
    done(null, payload);
  });
}
