import fc from 'fast-check';
import { RESOURCE_ID_PATTERN } from '../../src/common/validation/resource-id';
import { fillPath, listRoutes } from '../helpers/routes';
import { adminToken, createTenant, startTestApp, type TestApp } from '../helpers/test-app';

/**
 * Issue #5, hostile input: at least 1,000 generated bodies per write route.
 * Every answer is a 4xx with {"error"}, or a 2xx only for a body that is valid
 * by the contract (an oracle written from SPEC.md and /integration-types, not
 * from the service's code), in which case what was stored is checked; a
 * rejected body leaves the database as it was. Hostile path ids get a 4xx.
 */
const RUNS = Number(process.env.HOSTILE_RUNS ?? 1000);
const MASK = '********';
/** BODY_LIMIT's default: larger bodies get 413. */
const BODY_LIMIT = 64 * 1024;
const SPEC_SECRET_FIELDS: Record<string, string[]> = {
  salesforce: ['consumer-secret', 'password', 'secret-token'],
  twilio: ['password'],
  sendgrid: ['password'],
  datasift: ['api-key'],
  pusher: ['secret'],
  'urban-airship': ['password'],
};

interface VendorSpec {
  type: string;
  fields: string[];
  required: Set<string>;
  secret: Set<string>;
  maxLength: Record<string, number>;
  serverAssigned: Set<string>;
}

interface IntegrationTypeDescription {
  type: string;
  'secret-fields': string[];
  'required-fields': string[];
  schema: { properties: Record<string, { maxLength?: number; 'x-server-assigned'?: boolean }> };
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const isResourceId = (value: unknown): value is string => typeof value === 'string' && RESOURCE_ID_PATTERN.test(value);

/** class-validator's MaxLength counts like validator.js: a surrogate pair or a variation selector is one. */
function validatorLength(value: string): number {
  return value.length - (value.match(/[\uFE0E\uFE0F]/g) ?? []).length - (value.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g) ?? []).length;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A body the service may accept at all: at most BODY_LIMIT bytes of JSON (Fastify),
 * without `__proto__` keys or `constructor.prototype` (Fastify), holding only
 * Unicode text (no lone surrogates). Iterative: bodies nest deep.
 */
function parseLikeTheServer(raw: string): { ok: true; value: unknown } | { ok: false } {
  if (Buffer.byteLength(raw) > BODY_LIMIT) return { ok: false };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false };
  }
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const node = stack.pop();
    // JSON may escape a lone surrogate; no storage can keep one, so it is not text the service can accept.
    if (typeof node === 'string' && LONE_SURROGATE.test(node)) return { ok: false };
    if (typeof node !== 'object' || node === null) continue;
    if (Object.keys(node).some((key) => LONE_SURROGATE.test(key))) return { ok: false };
    if (Object.prototype.hasOwnProperty.call(node, '__proto__')) return { ok: false };
    const ctor = (node as Json).constructor;
    if (
      Object.prototype.hasOwnProperty.call(node, 'constructor') &&
      typeof ctor === 'object' &&
      ctor !== null &&
      Object.prototype.hasOwnProperty.call(ctor, 'prototype')
    ) {
      return { ok: false };
    }
    stack.push(...Object.values(node));
  }
  return { ok: true, value };
}

/** A stored integration the oracle knows: its type and its plaintext fields. */
type Known = Map<string, { type: string; fields: Record<string, string> }>;

type Verdict = { valid: false; why: string } | { valid: true; id: string; wire: Record<string, string> };
const invalid = (why: string): Verdict => ({ valid: false, why });

/** Field values of a vendor body, with the contract's rules; what the stored integration then shows. */
function checkFields(vendor: VendorSpec, body: Json, id: string, known: Known, replace: boolean): Verdict {
  const stored = known.get(id);
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'id' || key === 'type') continue;
    if (!vendor.fields.includes(key)) return invalid(`unknown field ${key}`);
    if (typeof value !== 'string' || value === '') return invalid(`${key} not a non-empty string`);
    if (validatorLength(value) > vendor.maxLength[key]) return invalid(`${key} too long`);
    if (vendor.secret.has(key)) {
      if (value.startsWith('enc:v1:')) return invalid(`${key} looks encrypted`);
      if (value === MASK) {
        const kept = stored?.type === vendor.type ? stored.fields[key] : undefined;
        if (kept === undefined) return invalid(`${key} is the mask with nothing stored`);
        fields[key] = kept;
        continue;
      }
    }
    fields[key] = value;
  }
  for (const field of vendor.required) if (fields[field] === undefined) return invalid(`missing ${field}`);
  // A replace keeps server-assigned fields it does not send; a PATCH clears them with null.
  for (const field of replace ? vendor.serverAssigned : []) {
    if (fields[field] === undefined && stored?.type === vendor.type && stored.fields[field] !== undefined)
      fields[field] = stored.fields[field];
  }
  const wire: Record<string, string> = { id, type: vendor.type };
  for (const field of vendor.fields) if (fields[field] !== undefined) wire[field] = fields[field];
  return { valid: true, id, wire };
}

/** POST …/integrations[/:id]: create or replace. */
function oraclePut(vendors: Map<string, VendorSpec>, raw: string, pathId: string | undefined, known: Known): Verdict {
  const parsed = parseLikeTheServer(raw);
  if (!parsed.ok) return invalid('not acceptable JSON');
  const body = parsed.value;
  if (!isObject(body)) return invalid('not an object');
  if (Object.values(body).includes(null)) return invalid('a null');
  if (body.id !== undefined && pathId !== undefined && body.id !== pathId) return invalid('id mismatch');
  const id = body.id ?? pathId;
  if (!isResourceId(id)) return invalid('bad id');
  const type = body.type ?? (vendors.has(id) ? id : undefined);
  if (typeof type !== 'string' || !vendors.has(type)) return invalid('bad type');
  return checkFields(vendors.get(type)!, body, id, known, true);
}

/** PATCH …/integrations/:id of a stored integration: fields sent replace, null clears, type cannot change. */
function oraclePatch(vendors: Map<string, VendorSpec>, raw: string, pathId: string, known: Known): Verdict {
  const parsed = parseLikeTheServer(raw);
  if (!parsed.ok) return invalid('not acceptable JSON');
  const body = parsed.value;
  if (!isObject(body)) return invalid('not an object');
  const stored = known.get(pathId);
  if (stored === undefined) return invalid('no such integration');
  if (body.type !== undefined && body.type !== stored.type) return invalid('type change');
  const vendor = vendors.get(stored.type)!;
  // "Unknown fields: 400 naming them" holds for PATCH too, whatever the value (null included).
  const unknown = Object.keys(body).find((key) => key !== 'id' && key !== 'type' && !vendor.fields.includes(key));
  if (unknown !== undefined) return invalid(`unknown field ${unknown}`);
  const merged: Json = { id: pathId, type: stored.type, ...stored.fields };
  for (const field of vendor.secret) if (merged[field] !== undefined) merged[field] = MASK;
  for (const [key, value] of Object.entries(body)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  if (merged.id !== undefined && merged.id !== pathId) return invalid('id mismatch');
  if (typeof merged.type !== 'string') return invalid('bad type');
  return checkFields(vendor, merged, pathId, known, false);
}

function oracleTenant(raw: string, keys: string[]): { valid: false; why: string } | { valid: true; body: { id?: string; name: string } } {
  const parsed = parseLikeTheServer(raw);
  if (!parsed.ok) return { valid: false, why: 'not acceptable JSON' };
  const body = parsed.value;
  if (!isObject(body)) return { valid: false, why: 'not an object' };
  if (Object.keys(body).some((key) => !keys.includes(key))) return { valid: false, why: 'unknown field' };
  if (keys.includes('id') && !isResourceId(body.id)) return { valid: false, why: 'bad id' };
  if (typeof body.name !== 'string' || body.name === '' || validatorLength(body.name) > 200) return { valid: false, why: 'bad name' };
  return { valid: true, body: body as { id?: string; name: string } };
}

// ---- generators -------------------------------------------------------------------------------

const NASTY_STRINGS = [
  "' OR '1'='1",
  "'; DROP TABLE tenants; --",
  '" OR ""="',
  '../../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '<script>alert(1)</script>',
  '${jndi:ldap://127.0.0.1/a}',
  '{{7*7}}',
  '%00',
  '\u0000',
  '\u202e\u0000\ufeff',
  '\ud800',
  'a\udc00b',
  '\ud83d\ude00\ud83d',
  'Ｓａｌｅｓｆｏｒｃｅ',
  '𝔰𝔞𝔩𝔢𝔰𝔣𝔬𝔯𝔠𝔢 👩‍👩‍👧‍👦',
  MASK,
  'enc:v1:dek-1:AAAAAAAAAAAAAAAA:AAAA:AAAAAAAAAAAAAAAAAAAAAA',
  ' ',
  'null',
  'undefined',
  '__proto__',
];

const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(...NASTY_STRINGS),
  // Huge: far over every field limit (and sometimes over the body limit).
  fc.integer({ min: 3000, max: 70_000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 3000, max: 25_000 }).map((n) => '€😀'.repeat(Math.ceil(n / 3))),
);

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 2, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.constant(0), fc.constant(-1), fc.constant(1e308)) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 2, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

const PROTO_PAYLOADS = [
  '"__proto__":{"isAdmin":true,"scope":"platform:admin"}',
  '"__proto__":null',
  '"__proto__":[]',
  '"\\u005f\\u005fproto\\u005f\\u005f":{"isAdmin":true}',
  '"constructor":{"prototype":{"isAdmin":true}}',
  '"a":{"constructor":{"prototype":{"isAdmin":true}}}',
  '"constructor":"x"',
  '"prototype":{"isAdmin":true}',
  '"toString":"x"',
  '"hasOwnProperty":1',
];

/** Inserts raw `"key": value` text as the first member of a JSON object text (so `__proto__` survives). */
const injectMember = (json: string, member: string): string => (json === '{}' ? `{${member}}` : `{${member},${json.slice(1)}`);

/** The id of the integration the PATCH runs target. */
const SEED_ID = 'salesforce';

const PLAIN = fc.stringMatching(/^[A-Za-z0-9@._+-][A-Za-z0-9 @._+-]{0,29}$/);

/** Bodies for the integration write routes: valid ones, mutated ones, and garbage. */
function integrationBodies(
  vendors: VendorSpec[],
  ids: string[],
  options: { partial: boolean; validFor?: VendorSpec },
): fc.Arbitrary<string> {
  const fieldNames = [...new Set(vendors.flatMap((v) => v.fields))];
  const validObject = (options.validFor ? fc.constant(options.validFor) : fc.constantFrom(...vendors)).chain((vendor) =>
    fc
      .record({
        id: fc.option(options.validFor ? fc.constant(SEED_ID) : fc.constantFrom(...ids), { nil: undefined }),
        type: fc.option(fc.constant(vendor.type), { nil: undefined }),
        fields: fc.record(
          Object.fromEntries(
            vendor.fields.map((f) => [f, options.partial || !vendor.required.has(f) ? fc.option(PLAIN, { nil: undefined }) : PLAIN]),
          ),
        ),
      })
      .map(({ id, type, fields }) => {
        const body: Json = {};
        if (id !== undefined) body.id = id;
        if (type !== undefined) body.type = type;
        for (const [key, value] of Object.entries(fields)) if (value !== undefined) body[key] = value;
        return body;
      }),
  );
  const key = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...fieldNames, 'id', 'type') },
    {
      weight: 1,
      arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'isAdmin', 'tenant_id', 'revision'),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  );
  const mutation = fc.oneof(
    fc.tuple(key, hostileValue).map(([k, v]) => (o: Json): Json => ({ ...o, [k]: v })),
    key.map((k) => (o: Json): Json => {
      const copy = { ...o };
      delete copy[k];
      return copy;
    }),
  );
  const mutated = fc
    .tuple(validObject, fc.array(mutation, { minLength: 1, maxLength: 3 }))
    .map(([o, ms]) => ms.reduce((acc, m) => m(acc), o));
  const deep = fc
    .tuple(fc.integer({ min: 32, max: 30_000 }), fc.constantFrom('[', '{"a":'), fc.boolean(), validObject)
    .map(([depth, open, whole, o]) => {
      const inner = `${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}`;
      return whole ? inner : injectMember(JSON.stringify(o), `"account":${inner}`);
    });
  return fc.oneof(
    { weight: 3, arbitrary: validObject.map((o) => JSON.stringify(o)) },
    { weight: 8, arbitrary: mutated.map((o) => JSON.stringify(o)) },
    { weight: 2, arbitrary: fc.dictionary(key, hostileValue, { maxKeys: 6 }).map((o) => JSON.stringify(o)) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '',
        ' ',
        '{}',
        '[]',
        'null',
        'true',
        '0',
        '""',
        '{',
        '{"id":',
        '[{}]',
        '{"a":1}{"b":2}',
        'NaN',
        "{'id':'x'}",
      ),
    },
    { weight: 2, arbitrary: fc.tuple(validObject, fc.constantFrom(...PROTO_PAYLOADS)).map(([o, p]) => injectMember(JSON.stringify(o), p)) },
    { weight: 1, arbitrary: deep },
    { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
  );
}

function tenantBodies(keys: string[], freshId: () => string): fc.Arbitrary<string> {
  const name = fc.oneof(PLAIN, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 50 }), fc.constantFrom(...NASTY_STRINGS));
  const validObject = fc.record({ name }).map((o): Json => (keys.includes('id') ? { id: freshId(), ...o } : o));
  const key = fc.oneof(
    fc.constantFrom(...keys, 'id', 'name', 'deleted_at', 'data_key_wrapped', '__proto__', 'constructor'),
    fc.string({ maxLength: 12 }),
  );
  const mutated = fc
    .tuple(validObject, fc.array(fc.tuple(key, fc.option(hostileValue, { nil: undefined })), { minLength: 1, maxLength: 3 }))
    .map(([o, changes]) =>
      changes.reduce((acc: Json, [k, v]) => {
        const copy: Json = { ...acc, [k]: v };
        if (v === undefined) delete copy[k];
        return copy;
      }, o),
    );
  return fc.oneof(
    { weight: 3, arbitrary: validObject.map((o) => JSON.stringify(o)) },
    { weight: 8, arbitrary: mutated.map((o) => JSON.stringify(o)) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.constantFrom('', '{}', '[]', 'null', '{', '"x"', '[{"name":"x"}]') },
    { weight: 2, arbitrary: fc.tuple(validObject, fc.constantFrom(...PROTO_PAYLOADS)).map(([o, p]) => injectMember(JSON.stringify(o), p)) },
    { weight: 1, arbitrary: fc.integer({ min: 32, max: 30_000 }).map((d) => `{"name":${'['.repeat(d)}${']'.repeat(d)}}`) },
  );
}

// ---- the tests --------------------------------------------------------------------------------

describe('Security: hostile input', () => {
  let t: TestApp;
  let tenant: string;
  let vendors: Map<string, VendorSpec>;
  const admin = adminToken();
  const statuses = new Map<number, number>();
  let bodies = 0;
  let serverErrors = 0;
  const createdTenants: string[] = [];

  /** The seeded integration every run starts from (a Salesforce one, with the server-assigned instance). */
  const SEED = {
    id: SEED_ID,
    type: 'salesforce',
    fields: {
      'consumer-key': 'seed-consumer-key',
      'consumer-secret': 'seed-consumer-secret',
      username: 'seed@example.com',
      password: 'seed-password',
      'secret-token': 'seed-secret-token',
      instance: 'https://seed.my.salesforce.com',
    },
  };
  const known = (): Known => new Map([[SEED.id, { type: SEED.type, fields: { ...SEED.fields } }]]);
  const INTEGRATION_IDS = ['salesforce', 'twilio', 'sendgrid', 'pusher', 'datasift', 'urban-airship', 'salesforce-eu', 'my-integration'];

  async function send(
    method: 'POST' | 'PATCH',
    url: string,
    raw: string,
  ): Promise<{ status: number; body: string; json: () => Json; etag: unknown }> {
    const response = await t.app.inject({
      method,
      url,
      payload: raw,
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    });
    bodies++;
    statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
    if (response.statusCode >= 500) serverErrors++;
    return { status: response.statusCode, body: response.body, json: () => response.json<Json>(), etag: response.headers.etag };
  }

  const integrationRows = (): Promise<Json[]> => t.db.query<Json>('SELECT * FROM integrations WHERE tenant_id = ? ORDER BY id', [tenant]);
  const tenantRow = async (id: string): Promise<string> => JSON.stringify(await t.db.query('SELECT * FROM tenants WHERE id = ?', [id]));

  async function restoreIntegrations(rows: Json[]): Promise<void> {
    await t.db.transaction(async (manager) => {
      await manager.query('DELETE FROM integrations WHERE tenant_id = ?', [tenant]);
      // Every column as it was seeded (the scheduling columns too), so a run after a restore starts from the same row.
      for (const row of rows) {
        const columns = Object.keys(row);
        await manager.query(
          `INSERT INTO integrations (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
          columns.map((column) => row[column]),
        );
      }
    });
  }

  /** A 4xx in the error format, or a short description of what was wrong with the answer. */
  function rejectedProperly(response: { status: number; body: string; json: () => Json }): string | undefined {
    if (response.status < 400 || response.status >= 500) return `status ${response.status}`;
    try {
      return typeof response.json().error === 'string' ? undefined : `no "error" in ${response.body.slice(0, 200)}`;
    } catch {
      return `not JSON: ${response.body.slice(0, 200)}`;
    }
  }

  /** The integrations of the fuzz tenant as seeded; every run starts from them. */
  let seedRows: Json[];

  /**
   * One generated integration write, checked against the oracle. Every run
   * starts from the seeded rows: a run that may have changed them (a 2xx, or a
   * failed check) puts them back.
   */
  async function integrationRun(method: 'POST' | 'PATCH', url: string, raw: string, verdict: Verdict): Promise<void> {
    const response = await send(method, url, raw);
    const context = `${method} ${url} ${raw.length > 300 ? `${raw.slice(0, 300)}… (${raw.length} chars)` : raw}\n→ ${response.status} ${response.body.slice(0, 300)}`;
    let clean = false;
    try {
      if (!verdict.valid) {
        expect({ context, problem: rejectedProperly(response) }).toEqual({ context, problem: undefined });
        expect({ context, rows: await integrationRows() }).toEqual({ context, rows: seedRows });
        clean = true;
        return;
      }
      const existed = seedRows.some((row) => row.id === verdict.id);
      expect({ context, status: response.status }).toEqual({ context, status: method === 'PATCH' || existed ? 200 : 201 });
      expect({ context, echo: response.json() }).toEqual({ context, echo: verdict.wire });
      expect(response.etag).toMatch(/^"/);
      const stored = await t.app.inject({
        method: 'GET',
        url: `/tenants/${tenant}/integrations/${verdict.id}`,
        headers: { authorization: `Bearer ${admin}` },
      });
      expect({ context, stored: stored.json() }).toEqual({ context, stored: verdict.wire });
    } finally {
      if (!clean) await restoreIntegrations(seedRows);
    }
  }

  beforeAll(async () => {
    t = await startTestApp();
    tenant = await createTenant(t, 'fuzz');
    const seeded = await t.app.inject({
      method: 'POST',
      url: `/tenants/${tenant}/integrations/${SEED.id}`,
      payload: { type: SEED.type, ...SEED.fields },
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(seeded.statusCode).toBe(201);
    seedRows = await integrationRows();
    const types = (await t.app.inject({ method: 'GET', url: '/integration-types', headers: { authorization: `Bearer ${admin}` } })).json<
      IntegrationTypeDescription[]
    >();
    vendors = new Map(
      types.map((d) => [
        d.type,
        {
          type: d.type,
          fields: Object.keys(d.schema.properties).filter((f) => f !== 'id' && f !== 'type'),
          required: new Set(d['required-fields']),
          secret: new Set(d['secret-fields']),
          maxLength: Object.fromEntries(Object.entries(d.schema.properties).map(([f, p]) => [f, p.maxLength ?? Infinity])),
          serverAssigned: new Set(
            Object.entries(d.schema.properties)
              .filter(([, p]) => p['x-server-assigned'])
              .map(([f]) => f),
          ),
        },
      ]),
    );
  });

  afterAll(async () => {
    for (const id of createdTenants) await t.db.query('DELETE FROM tenants WHERE id = ?', [id]);
    const histogram = [...statuses].sort(([a], [b]) => a - b).map(([status, count]) => `${status}×${count}`);
    console.log(`${bodies} hostile requests, ${serverErrors} × 5xx (${histogram.join(', ')})`);
    await t.close();
  });

  it('describes the vendors of the contract (the oracle is built on it)', () => {
    expect(Object.fromEntries([...vendors.values()].map((v) => [v.type, [...v.secret].sort()]))).toEqual(
      Object.fromEntries(Object.entries(SPEC_SECRET_FIELDS).map(([type, fields]) => [type, [...fields].sort()])),
    );
  });

  it(`POST /tenants/:iid/integrations/:id: ${RUNS} generated bodies`, async () => {
    const pathIds = fc.constantFrom('salesforce', 'twilio', 'my-integration');
    await fc.assert(
      fc.asyncProperty(pathIds, integrationBodies([...vendors.values()], INTEGRATION_IDS, { partial: false }), async (pathId, raw) => {
        await integrationRun('POST', `/tenants/${tenant}/integrations/${pathId}`, raw, oraclePut(vendors, raw, pathId, known()));
      }),
      { numRuns: RUNS },
    );
  });

  it(`POST /tenants/:iid/integrations (id from the body): ${RUNS} generated bodies`, async () => {
    await fc.assert(
      fc.asyncProperty(integrationBodies([...vendors.values()], INTEGRATION_IDS, { partial: false }), async (raw) => {
        await integrationRun('POST', `/tenants/${tenant}/integrations`, raw, oraclePut(vendors, raw, undefined, known()));
      }),
      { numRuns: RUNS },
    );
  });

  it(`PATCH /tenants/:iid/integrations/:id: ${RUNS} generated bodies`, async () => {
    const pathIds = fc.oneof({ weight: 9, arbitrary: fc.constant('salesforce') }, { weight: 1, arbitrary: fc.constant('twilio') });
    await fc.assert(
      fc.asyncProperty(
        pathIds,
        integrationBodies([...vendors.values()], INTEGRATION_IDS, { partial: true, validFor: vendors.get(SEED.type) }),
        async (pathId, raw) => {
          await integrationRun('PATCH', `/tenants/${tenant}/integrations/${pathId}`, raw, oraclePatch(vendors, raw, pathId, known()));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it(`POST /tenants: ${RUNS} generated bodies`, async () => {
    const [{ count: initial }] = await t.db.query<{ count: number | string }>('SELECT COUNT(*) AS count FROM tenants');
    await fc.assert(
      fc.asyncProperty(
        tenantBodies(['id', 'name'], () => t.uniqueId('fz')),
        async (raw) => {
          const verdict = oracleTenant(raw, ['id', 'name']);
          const parsed = parseLikeTheServer(raw);
          const sentId = parsed.ok && isObject(parsed.value) && typeof parsed.value.id === 'string' ? parsed.value.id : undefined;
          const before = sentId === undefined ? '[]' : await tenantRow(sentId);
          const response = await send('POST', '/tenants', raw);
          const context = `POST /tenants ${raw.slice(0, 300)} → ${response.status} ${response.body.slice(0, 300)}`;
          if (response.status === 201 && verdict.valid) createdTenants.push(verdict.body.id!);
          if (verdict.valid && before === '[]') {
            expect({ context, status: response.status }).toEqual({ context, status: 201 });
            expect({ context, body: response.json() }).toMatchObject({ context, body: { id: verdict.body.id, name: verdict.body.name } });
            const rows = await t.db.query<Json>('SELECT id, name FROM tenants WHERE id = ?', [verdict.body.id]);
            expect({ context, rows }).toEqual({ context, rows: [{ id: verdict.body.id, name: verdict.body.name }] });
            await t.db.query('DELETE FROM tenants WHERE id = ?', [verdict.body.id]);
          } else {
            expect({ context, problem: rejectedProperly(response) }).toEqual({ context, problem: undefined });
            if (sentId !== undefined) expect({ context, row: await tenantRow(sentId) }).toEqual({ context, row: before });
          }
        },
      ),
      { numRuns: RUNS },
    );
    const [{ count }] = await t.db.query<{ count: number | string }>('SELECT COUNT(*) AS count FROM tenants');
    expect(Number(count)).toBe(Number(initial));
  });

  it(`PATCH /tenants/:iid: ${RUNS} generated bodies`, async () => {
    const original = await tenantRow(tenant);
    const [{ name: originalName, updated_at: originalUpdatedAt }] = await t.db.query<Json>(
      'SELECT name, updated_at FROM tenants WHERE id = ?',
      [tenant],
    );
    await fc.assert(
      fc.asyncProperty(
        tenantBodies(['name'], () => ''),
        async (raw) => {
          const verdict = oracleTenant(raw, ['name']);
          const response = await send('PATCH', `/tenants/${tenant}`, raw);
          const context = `PATCH /tenants/${tenant} ${raw.slice(0, 300)} → ${response.status} ${response.body.slice(0, 300)}`;
          let clean = false;
          try {
            if (verdict.valid) {
              expect({ context, status: response.status }).toEqual({ context, status: 200 });
              expect({ context, body: response.json() }).toMatchObject({ context, body: { id: tenant, name: verdict.body.name } });
              const rows = await t.db.query<Json>('SELECT name FROM tenants WHERE id = ?', [tenant]);
              expect({ context, rows }).toEqual({ context, rows: [{ name: verdict.body.name }] });
            } else {
              expect({ context, problem: rejectedProperly(response) }).toEqual({ context, problem: undefined });
              expect({ context, row: await tenantRow(tenant) }).toEqual({ context, row: original });
              clean = true;
            }
          } finally {
            if (!clean)
              await t.db.query('UPDATE tenants SET name = ?, updated_at = ? WHERE id = ?', [originalName, originalUpdatedAt, tenant]);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('leaves Object.prototype alone', () => {
    const probe = {} as Json;
    expect([probe.isAdmin, probe.scope, Object.prototype.hasOwnProperty.call(Object.prototype, 'isAdmin')]).toEqual([
      undefined,
      undefined,
      false,
    ]);
  });

  it('answers hostile path ids on every route with a 4xx, never a 5xx', async () => {
    const hostileIds = [
      "x' OR '1'='1",
      "x'; DROP TABLE tenants; --",
      '1 UNION SELECT * FROM tenants',
      '../../../etc/passwd',
      '..%2F..%2Fetc',
      '%2e%2e',
      'ténant',
      '𝔱𝔢𝔫𝔞𝔫𝔱',
      'a\u0000b',
      'a b',
      '*',
      '%',
      'a'.repeat(65),
      'a'.repeat(10 * 1024),
    ];
    const routes = listRoutes(t.app).filter((r) => /:(iid|id)\b/.test(r.path));
    const randomIds = fc.sample(
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 80 }).filter((s) => !isResourceId(s)),
      { numRuns: 200, seed: 42 },
    );
    const failures: string[] = [];
    let requests = 0;
    for (const route of routes) {
      for (const id of [...hostileIds, ...randomIds]) {
        for (const param of ['iid', 'id'].filter((p) => route.path.includes(`:${p}`))) {
          const url = fillPath(route.path, { iid: tenant, id: 'salesforce', [param]: id });
          const payload =
            route.method === 'POST' || route.method === 'PATCH' ? JSON.stringify({ name: 'x', account: 'x', password: 'y' }) : undefined;
          const response = await t.app.inject({
            method: route.method,
            url,
            ...(payload
              ? { payload, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' } }
              : { headers: { authorization: `Bearer ${admin}` } }),
          });
          requests++;
          const problem = rejectedProperly({ status: response.statusCode, body: response.body, json: () => response.json<Json>() });
          if (problem !== undefined) failures.push(`${route.method} ${url.slice(0, 120)}: ${problem}`);
        }
      }
    }
    console.log(`${requests} requests with hostile path ids: ${failures.length} not a 4xx`);
    expect(failures).toEqual([]);
    expect(await integrationRows()).toHaveLength(1);
  });
});
