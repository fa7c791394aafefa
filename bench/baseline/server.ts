/**
 * The yardstick: the hand-written minimum that does the service's hot-path work
 * on the same schema and data, with nothing shared with the service.
 *
 * Bare Fastify, a mysql2 pool with prepared statements (`execute`), jsonwebtoken
 * with a KeyObject and pinned algorithm/iss/aud, the same claim checks, the same
 * tenant check, AES-256-GCM through node:crypto with the tenant data key cached
 * like the service's, and the same JSON and headers on the wire. Routes:
 *
 *   GET  /tenants/:iid/integrations/:id
 *   GET  /tenants/:iid/integrations          (?limit=100&offset=0, X-Total-Count)
 *   POST /tenants/:iid/integrations/:id      (create 201 / replace 200: one conditional upsert)
 *   GET  /health/ready
 *
 * Env: PORT, DATABASE_URL (mysql://…/db), JWT_SECRET, ENCRYPTION_KEYS (id:base64,…),
 * DATABASE_POOL_SIZE (20), DATA_KEY_CACHE_TTL_MS (60000), DATA_KEY_CACHE_SIZE (10000), JWT_ISSUER/JWT_AUDIENCE.
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, randomUUID } from 'node:crypto';
import Fastify, { type FastifyRequest } from 'fastify';
import { verify, type JwtPayload } from 'jsonwebtoken';
import { createPool } from 'mysql2';
import { BASELINE_VENDORS, type BaselineVendor } from './vendors';

// ---------------------------------------------------------------- configuration

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`baseline: ${name} must be set`);
  return value;
}

const PORT = Number(process.env.PORT ?? 3100);
const JWT_KEY = createSecretKey(Buffer.from(required('JWT_SECRET')));
const JWT_OPTIONS = {
  algorithms: ['HS256' as const],
  issuer: process.env.JWT_ISSUER ?? 'integrations-api',
  audience: process.env.JWT_AUDIENCE ?? 'integrations-api',
  clockTolerance: 5,
};
const MASTER_KEYS = new Map(
  required('ENCRYPTION_KEYS')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const colon = entry.indexOf(':');
      return [entry.slice(0, colon), Buffer.from(entry.slice(colon + 1), 'base64')] as const;
    }),
);
const DEK_TTL_MS = Number(process.env.DATA_KEY_CACHE_TTL_MS ?? 60_000);
// The service's DataKeyService keeps at most DATA_KEY_CACHE_SIZE (10,000) entries, two per tenant (its
// current key and the same key by version); the baseline keeps one per tenant.
const DEK_CACHE_MAX = Number(process.env.DATA_KEY_CACHE_SIZE ?? 10_000);
const pool = createPool({
  uri: required('DATABASE_URL'),
  connectionLimit: Number(process.env.DATABASE_POOL_SIZE ?? 20),
  charset: 'utf8mb4',
  timezone: 'Z',
  enableKeepAlive: true,
  queueLimit: 1000,
});

/**
 * mysql2's callback API with a bare promise around it: its promise wrapper
 * captures a stack trace per query, which shows in the profile.
 */
interface Queryable {
  execute(sql: string, values: unknown[], callback: (error: Error | null, rows: unknown) => void): unknown;
  query(sql: string, callback: (error: Error | null, rows: unknown) => void): unknown;
}

function execute<T>(on: Queryable, sql: string, values: unknown[]): Promise<T[]> {
  return new Promise((resolve, reject) => {
    on.execute(sql, values, (error, rows) => (error ? reject(error) : resolve(rows as T[])));
  });
}

function query<T>(on: Queryable, sql: string): Promise<T[]> {
  return new Promise((resolve, reject) => {
    on.query(sql, (error, rows) => (error ? reject(error) : resolve(rows as T[])));
  });
}

const db = pool as unknown as Queryable;

const VENDORS = new Map(BASELINE_VENDORS.map((v) => [v.type, v]));
const VENDOR_LIST = BASELINE_VENDORS.map((v) => v.type).join(', ');
const ID = /^[A-Za-z0-9._-]{1,64}$/;
const MASK = '********';

/** What @fastify/helmet (as the service configures it) adds to every answer. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' 'unsafe-inline';upgrade-insecure-requests",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
  'cache-control': 'no-store',
};

// ---------------------------------------------------------------- errors

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------- auth

interface Principal {
  scopes: Set<string>;
  tenants: Set<string>;
  admin: boolean;
}

function authenticate(request: FastifyRequest, scope: string, tenantId: string): Principal {
  const header = request.headers.authorization;
  if (header === undefined || header.length < 8 || header.slice(0, 7).toLowerCase() !== 'bearer ') {
    throw new HttpError(401, 'Missing bearer token (Authorization: Bearer <JWT>)');
  }
  let payload: JwtPayload & { scope?: unknown; tenants?: unknown };
  try {
    payload = verify(header.slice(7), JWT_KEY, JWT_OPTIONS) as JwtPayload;
  } catch (error) {
    throw new HttpError(401, `Invalid token: ${(error as Error).message}`);
  }
  if (typeof payload.exp !== 'number') throw new HttpError(401, 'Token has no exp claim');
  if (typeof payload.sub !== 'string' || payload.sub === '') throw new HttpError(401, 'Token has no sub claim');
  if (payload.scope !== undefined && typeof payload.scope !== 'string')
    throw new HttpError(401, 'Token scope claim must be a space-separated string');
  const tenants = payload.tenants;
  if (tenants !== undefined && !(Array.isArray(tenants) && tenants.every((t) => typeof t === 'string'))) {
    throw new HttpError(401, 'Token tenants claim must be an array of tenant ids');
  }
  const scopes = new Set((payload.scope ?? '').split(' ').filter(Boolean));
  const principal: Principal = {
    scopes,
    tenants: new Set((tenants ?? []).filter((t) => ID.test(t))),
    admin: scopes.has('platform:admin'),
  };
  if (!principal.admin && !scopes.has(scope)) throw new HttpError(403, `This token lacks the scope '${scope}'`);
  if (!ID.test(tenantId)) throw new HttpError(400, 'iid in the path must be 1-64 characters of letters, digits, ".", "_" or "-"');
  if (!principal.admin && !principal.tenants.has(tenantId)) throw new HttpError(403, `This token may not access tenant '${tenantId}'`);
  return principal;
}

const reveals = (p: Principal): boolean => p.admin || p.scopes.has('integrations:secrets');

function checkId(id: string): void {
  if (!ID.test(id)) throw new HttpError(400, 'id in the path must be 1-64 characters of letters, digits, ".", "_" or "-"');
}

// ---------------------------------------------------------------- crypto (enc:v1:<key id>:<iv>:<ct>:<tag>)

function seal(key: Buffer, keyId: string, plaintext: Buffer, aad: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return `enc:v1:${keyId}:${iv.toString('base64url')}:${ciphertext.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}`;
}

/** Opens an envelope made by `expectedKeyId` (any key when undefined); throws on any mismatch. */
function open(envelope: string, keyFor: (keyId: string) => Buffer | undefined, aad: Buffer): Buffer {
  const parts = envelope.startsWith('enc:v1:') ? envelope.slice(7).split(':') : [];
  if (parts.length !== 4) throw new Error('malformed envelope');
  const key = keyFor(parts[0]);
  if (key === undefined) throw new Error(`no key ${parts[0]}`);
  const iv = Buffer.from(parts[1], 'base64url');
  const tag = Buffer.from(parts[3], 'base64url');
  if (iv.length !== 12 || tag.length !== 16) throw new Error('malformed envelope');
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(Buffer.from(parts[2], 'base64url')), decipher.final()]);
}

const secretAad = (tenant: string, integration: string, field: string): Buffer =>
  Buffer.from(`integrations-api/secret/v1\0${tenant}\0${integration}\0${field}`);

/** A live tenant's key columns, as a statement just read them. */
interface TenantKey {
  tenantId: string;
  wrapped: string | null;
  version: number;
}

/**
 * Each tenant's current data key (version and unwrapped key) for
 * DATA_KEY_CACHE_TTL_MS, like the service's DataKeyService: reads that see
 * another version in the tenant row replace it, and a write whose fence the
 * database refused drops it. The baseline knows one data key per tenant, the
 * current one: the bench data has no re-encryption in progress
 * (`previous_data_key_wrapped` is NULL), so it leaves out the service's
 * reading of the previous version.
 */
interface CurrentKey {
  version: number;
  key: Buffer;
  expiresAt: number;
}

const keyCache = new Map<string, CurrentKey>();

function cachedKey(tenantId: string): CurrentKey | undefined {
  const hit = keyCache.get(tenantId);
  if (hit === undefined) return undefined;
  if (hit.expiresAt > Date.now()) return hit;
  keyCache.delete(tenantId);
  return undefined;
}

/** The data key of the tenant row just read (its current version), unwrapped once and cached. */
function dataKey(tenant: TenantKey): Buffer {
  if (tenant.wrapped === null) throw new HttpError(404, `Tenant '${tenant.tenantId}' does not exist or has been deleted`);
  const hit = cachedKey(tenant.tenantId);
  if (hit !== undefined && hit.version === tenant.version) return hit.key;
  const key = open(tenant.wrapped, (id) => MASTER_KEYS.get(id), Buffer.from(`integrations-api/data-key/v1\0${tenant.tenantId}`));
  if (DEK_TTL_MS > 0 && DEK_CACHE_MAX > 0) {
    keyCache.delete(tenant.tenantId);
    if (keyCache.size >= DEK_CACHE_MAX) keyCache.delete(keyCache.keys().next().value as string);
    keyCache.set(tenant.tenantId, { version: tenant.version, key, expiresAt: Date.now() + DEK_TTL_MS });
  }
  return key;
}

function decryptSecret(tenant: TenantKey, integration: string, field: string, envelope: string): string {
  const label = `dek-${tenant.version}`;
  const key = dataKey(tenant);
  try {
    return open(envelope, (id) => (id === label ? key : undefined), secretAad(tenant.tenantId, integration, field)).toString('utf8');
  } catch {
    throw new HttpError(500, `A stored secret of integration '${integration}' could not be decrypted`);
  }
}

// ---------------------------------------------------------------- rows → wire

interface IntegrationRow {
  id: string;
  type: string;
  config: string;
  secrets: string;
  revision: number;
}

function vendorOf(type: string): BaselineVendor {
  const vendor = VENDORS.get(type);
  if (vendor === undefined) throw new Error(`stored integration has unknown type '${type}'`);
  return vendor;
}

function present(tenant: TenantKey, row: IntegrationRow, reveal: boolean): Record<string, string> {
  const vendor = vendorOf(row.type);
  const config = JSON.parse(row.config) as Record<string, string>;
  const secrets = JSON.parse(row.secrets) as Record<string, string>;
  const wire: Record<string, string> = { id: row.id, type: vendor.type };
  for (const field of vendor.fields) {
    const name = field.name;
    if (field.secret) {
      const envelope = secrets[name];
      if (envelope !== undefined) wire[name] = reveal ? decryptSecret(tenant, row.id, name, envelope) : MASK;
    } else if (config[name] !== undefined) {
      wire[name] = config[name];
    }
  }
  return wire;
}

// ---------------------------------------------------------------- SQL

/** A tenant exists while it has a row: deleting one removes it (and, by the foreign key's cascade, its integrations). */
const SQL_GET = `SELECT t.data_key_wrapped, t.data_key_version,
       i.id, i.type, i.config, i.secrets, i.revision
  FROM tenants t LEFT JOIN integrations i ON i.tenant_id = t.id AND i.id = ?
 WHERE t.id = ?`;

/**
 * The list: tenant check with the total, and the page, as two statements sent
 * at once on two pooled connections. (One statement joining them makes MariaDB
 * sort the page in a temporary table, which costs it more than both of these.)
 */
const SQL_PAGE = 'SELECT id, type, config, secrets, revision FROM integrations WHERE tenant_id = ? ORDER BY id LIMIT ? OFFSET ?';

const SQL_TENANT_COUNT = `SELECT t.data_key_wrapped, t.data_key_version,
       (SELECT COUNT(*) FROM integrations c WHERE c.tenant_id = t.id) AS total
  FROM tenants t WHERE t.id = ?`;

/** A write's data key when the cache has none for the tenant. */
const SQL_TENANT_KEY = 'SELECT data_key_wrapped, data_key_version FROM tenants WHERE id = ?';

/**
 * The write: one statement, create or replace. The SELECT yields the row to
 * insert only while the tenant exists with the data key version the secrets
 * were encrypted with (the service's write fence), so it inserts nothing and
 * updates nothing otherwise (0 rows affected). An existing row is replaced in
 * place (2 rows affected, 1 for an insert): its revision goes up by one and
 * comes back as the OK packet's insert id through LAST_INSERT_ID(expr), its
 * last verification is cleared, created_at stays. (The revision always
 * changes, so mysql2's FOUND_ROWS flag cannot make a replace look like an insert.)
 */
const SQL_UPSERT = `INSERT INTO integrations (tenant_id, id, type, config, secrets, revision, created_at, updated_at)
SELECT t.id, ?, ?, ?, ?, 1, ?, ? FROM tenants t WHERE t.id = ? AND t.data_key_version = ?
ON DUPLICATE KEY UPDATE revision = LAST_INSERT_ID(revision + 1), type = VALUES(type), config = VALUES(config),
  secrets = VALUES(secrets), updated_at = VALUES(updated_at), verify_status = NULL, verify_message = NULL, verified_at = NULL`;

/**
 * A replace that must find the row at a revision (If-Match, or the revision
 * just read for the mask): `? = 1` for `If-Match: *`, else the revisions as a
 * comma list. Fenced like the upsert; the new revision comes back the same way.
 */
const SQL_UPDATE = `UPDATE integrations
   SET revision = LAST_INSERT_ID(revision + 1), type = ?, config = ?, secrets = ?, updated_at = ?,
       verify_status = NULL, verify_message = NULL, verified_at = NULL
 WHERE tenant_id = ? AND id = ? AND (? = 1 OR FIND_IN_SET(revision, ?) > 0)
   AND EXISTS (SELECT 1 FROM tenants t WHERE t.id = ? AND t.data_key_version = ?)`;

/** A create after a read found no row: a duplicate means another write created it meanwhile. */
const SQL_INSERT = `INSERT INTO integrations (tenant_id, id, type, config, secrets, revision, created_at, updated_at)
SELECT t.id, ?, ?, ?, ?, 1, ?, ? FROM tenants t WHERE t.id = ? AND t.data_key_version = ?`;

interface TenantColumns {
  data_key_wrapped: string | null;
  data_key_version: number;
}

function liveTenant(tenantId: string, row: TenantColumns | undefined): TenantKey {
  if (row === undefined) throw new HttpError(404, `Tenant '${tenantId}' does not exist or has been deleted`);
  return { tenantId, wrapped: row.data_key_wrapped, version: Number(row.data_key_version) };
}

function utcNow(): string {
  return new Date().toISOString().replace('T', ' ').replace('Z', '');
}

// ---------------------------------------------------------------- body validation (what the service's DTOs check)

interface Input {
  id: string;
  vendor: BaselineVendor;
  fields: Record<string, string>;
}

function validateBody(body: unknown, pathId: string): Input {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'Request body must be a JSON object');
  const object = body as Record<string, unknown>;
  if (object.id !== undefined && object.id !== pathId) throw new HttpError(400, 'Body id does not match the id in the path');
  const type = object.type ?? (VENDORS.has(pathId) ? pathId : undefined);
  if (type === undefined) throw new HttpError(400, `type is required because id is not a vendor type; known types: ${VENDOR_LIST}`);
  const vendor = typeof type === 'string' ? VENDORS.get(type) : undefined;
  if (vendor === undefined) throw new HttpError(400, `Unknown type; known types: ${VENDOR_LIST}`);
  const unknown: string[] = [];
  for (const key of Object.keys(object)) {
    if (key !== 'id' && key !== 'type' && !vendor.fields.some((f) => f.name === key)) unknown.push(key);
  }
  const invalid: string[] = [];
  const fields: Record<string, string> = {};
  for (const field of vendor.fields) {
    const value = object[field.name];
    if (value === undefined && !field.required) continue;
    if (typeof value !== 'string' || value.length === 0 || value.length > field.maxLength) invalid.push(field.name);
    else fields[field.name] = value;
  }
  if (unknown.length > 0 || invalid.length > 0) {
    const parts = [
      unknown.length ? `unknown fields: ${unknown.join(', ')}` : '',
      invalid.length ? `missing or invalid: ${invalid.join(', ')}` : '',
    ];
    throw new HttpError(400, `Validation failed (${parts.filter(Boolean).join('; ')})`);
  }
  return { id: pathId, vendor, fields };
}

function ifMatchAllows(header: string, revision: number | undefined): boolean {
  if (revision === undefined) return false;
  if (header.trim() === '*') return true;
  const current = `"r${revision}"`;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === current);
}

/** The revisions an If-Match header names, as SQL_UPDATE's `? = 1` and comma list (the same rule as ifMatchAllows). */
function ifMatchRevisions(header: string): { any: number; revisions: string } {
  if (header.trim() === '*') return { any: 1, revisions: '' };
  const revisions: string[] = [];
  for (const tag of header.split(',')) {
    const match = /^"r(0|[1-9]\d{0,9})"$/.exec(tag.trim().replace(/^W\//, ''));
    if (match !== null) revisions.push(match[1]);
  }
  return { any: 0, revisions: revisions.join(',') };
}

// ---------------------------------------------------------------- server

const app = Fastify({
  logger: false,
  bodyLimit: 64 * 1024,
  genReqId: () => randomUUID(),
  routerOptions: { maxParamLength: 16_384 },
});
app.removeContentTypeParser('text/plain');

app.addHook('onRequest', (request, reply, done) => {
  reply.headers(SECURITY_HEADERS);
  reply.header('x-request-id', request.id);
  done();
});

app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
  const status = error instanceof HttpError ? error.status : error.statusCode && error.statusCode < 500 ? error.statusCode : 500;
  const message = error instanceof HttpError || status < 500 ? error.message : 'Internal error';
  void reply.status(status).send({ error: message, requestId: request.id });
});

interface Params {
  iid: string;
  id: string;
}

app.get('/health/ready', async () => {
  await query(db, 'SELECT 1');
  return { status: 'ok' };
});

app.get<{ Params: Params }>('/tenants/:iid/integrations/:id', async (request, reply) => {
  const { iid, id } = request.params;
  const principal = authenticate(request, 'integrations:read', iid);
  checkId(id);
  const rows = await execute<TenantColumns & IntegrationRow>(db, SQL_GET, [id, iid]);
  const tenant = liveTenant(iid, rows[0]);
  const row = rows[0];
  if (row.id === null) throw new HttpError(404, `Integration '${id}' of tenant '${iid}' does not exist`);
  reply.header('etag', `"r${row.revision}"`);
  return present(tenant, row, reveals(principal));
});

function pageParam(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `${name} must be an integer from ${min} to ${max}`);
  return n;
}

app.get<{ Params: { iid: string }; Querystring: Record<string, unknown> }>('/tenants/:iid/integrations', async (request, reply) => {
  const { iid } = request.params;
  const principal = authenticate(request, 'integrations:read', iid);
  const limit = pageParam(request.query.limit, 'limit', 100, 1, 1000);
  const offset = pageParam(request.query.offset, 'offset', 0, 0, 1_000_000_000);
  const [heads, rows] = await Promise.all([
    execute<TenantColumns & { total: number }>(db, SQL_TENANT_COUNT, [iid]),
    execute<IntegrationRow>(db, SQL_PAGE, [iid, String(limit), String(offset)]),
  ]);
  const head = heads[0];
  const tenant = liveTenant(iid, head);
  const reveal = reveals(principal);
  const items = rows.map((row) => present(tenant, row, reveal));
  reply.header('x-total-count', String(head.total));
  return items;
});

// ---------------------------------------------------------------- the write (POST: create 201 / replace 200)

interface Written {
  wire: Record<string, string>;
  revision: number;
  created: boolean;
}

/** Writes, the statements they sent (reads included) and how often they went round again, for the bench's report (GET /bench/write-stats). */
const writeStats = { writes: 0, statements: 0, deadlocks: 0, lockWaitTimeouts: 0, lostRaces: 0, conflicts409: 0 };

const MAX_WRITE_ATTEMPTS = 8;

/**
 * The row must be read first only when the answer or the stored value depends
 * on it: a secret sent as the mask keeps the stored one, a server-assigned
 * field not sent keeps the stored value (and the answer shows it), and a value
 * that looks like an envelope is refused only after the 404 and 412 checks,
 * as the service orders them.
 */
function needsStoredRow(input: Input): boolean {
  for (const field of input.vendor.fields) {
    const value = input.fields[field.name];
    if (field.secret && value !== undefined && (value === MASK || value.startsWith('enc:v1:'))) return true;
  }
  return input.vendor.serverAssigned.some((name) => input.fields[name] === undefined);
}

/** The tenant's current data key: cached, or read from its row (404 when there is none). */
async function currentKey(tenantId: string): Promise<{ version: number; key: Buffer }> {
  const hit = cachedKey(tenantId);
  if (hit !== undefined) return hit;
  writeStats.statements++;
  const rows = await execute<TenantColumns>(db, SQL_TENANT_KEY, [tenantId]);
  const tenant = liveTenant(tenantId, rows[0]);
  return { version: tenant.version, key: dataKey(tenant) };
}

/** A statement that answers with an OK packet (rows affected, insert id). */
function run(sql: string, values: unknown[]): Promise<{ affectedRows: number; insertId: number }> {
  writeStats.statements++;
  return new Promise((resolve, reject) => {
    db.execute(sql, values, (error, result) => (error ? reject(error) : resolve(result as { affectedRows: number; insertId: number })));
  });
}

/**
 * The common case, the body alone says what to store: one statement (plus a
 * read of the tenant's key when the cache has none). Without If-Match it is
 * the upsert; with If-Match the row must exist, so it is the conditional
 * update. When nothing was written, one read says why: 404, 412, or the
 * tenant's data key changed (undefined: encrypt again under the new one).
 */
async function writeFromBody(tenantId: string, input: Input, ifMatch: string | undefined): Promise<Written | undefined> {
  const { version, key } = await currentKey(tenantId);
  const config: Record<string, string> = {};
  const secrets: Record<string, string> = {};
  const wire: Record<string, string> = { id: input.id, type: input.vendor.type };
  for (const field of input.vendor.fields) {
    const value = input.fields[field.name];
    if (value === undefined) continue;
    wire[field.name] = value;
    if (!field.secret) config[field.name] = value;
    else secrets[field.name] = seal(key, `dek-${version}`, Buffer.from(value, 'utf8'), secretAad(tenantId, input.id, field.name));
  }
  const now = utcNow();
  const type = input.vendor.type;
  if (ifMatch === undefined) {
    const result = await run(SQL_UPSERT, [input.id, type, JSON.stringify(config), JSON.stringify(secrets), now, now, tenantId, version]);
    if (result.affectedRows === 1) return { wire, revision: 1, created: true };
    if (result.affectedRows === 2) return { wire, revision: Number(result.insertId), created: false };
  } else {
    const { any, revisions } = ifMatchRevisions(ifMatch);
    if (any === 1 || revisions !== '') {
      const values = [type, JSON.stringify(config), JSON.stringify(secrets), now, tenantId, input.id, any, revisions, tenantId, version];
      const result = await run(SQL_UPDATE, values);
      if (result.affectedRows === 1) return { wire, revision: Number(result.insertId), created: false };
    }
  }
  // Nothing written: the tenant is gone, its data key changed, or the row is not at the revision If-Match names.
  writeStats.statements++;
  const rows = await execute<TenantColumns & IntegrationRow>(db, SQL_GET, [input.id, tenantId]);
  const tenant = liveTenant(tenantId, rows[0]);
  if (tenant.version !== version) keyCache.delete(tenantId);
  if (ifMatch !== undefined && !ifMatchAllows(ifMatch, rows[0].id === null ? undefined : Number(rows[0].revision))) {
    throw new HttpError(412, 'If-Match does not match the current version; read the integration again and retry');
  }
  return undefined;
}

/**
 * A body that needs the stored row (see needsStoredRow): one non-locking read,
 * then one statement conditional on what it read (the revision, or no row),
 * like the service's write. Undefined when the row changed meanwhile.
 */
async function writeAfterRead(tenantId: string, input: Input, ifMatch: string | undefined, reveal: boolean): Promise<Written | undefined> {
  writeStats.statements++;
  const rows = await execute<TenantColumns & IntegrationRow>(db, SQL_GET, [input.id, tenantId]);
  const tenant = liveTenant(tenantId, rows[0]);
  const existing = rows[0].id === null ? null : rows[0];
  if (ifMatch !== undefined && !ifMatchAllows(ifMatch, existing === null ? undefined : Number(existing.revision))) {
    throw new HttpError(412, 'If-Match does not match the current version; read the integration again and retry');
  }
  const sameType = existing !== null && existing.type === input.vendor.type;
  const storedConfig = sameType ? (JSON.parse(existing.config) as Record<string, string>) : {};
  const storedSecrets = sameType ? (JSON.parse(existing.secrets) as Record<string, string>) : {};
  const fields = { ...input.fields };
  for (const name of input.vendor.serverAssigned) {
    if (fields[name] === undefined && storedConfig[name] !== undefined) fields[name] = storedConfig[name];
  }
  const config: Record<string, string> = {};
  const secrets: Record<string, string> = {};
  for (const field of input.vendor.fields) {
    const value = fields[field.name];
    if (value === undefined) continue;
    if (!field.secret) config[field.name] = value;
    else if (value === MASK) {
      const kept = storedSecrets[field.name];
      if (kept === undefined)
        throw new HttpError(400, `${field.name}: "${MASK}" keeps a stored secret, and there is none; send the real value`);
      secrets[field.name] = kept;
    } else {
      if (value.startsWith('enc:v1:')) throw new HttpError(400, `${field.name} looks like an encrypted envelope; send the plain value`);
      secrets[field.name] = seal(
        dataKey(tenant),
        `dek-${tenant.version}`,
        Buffer.from(value, 'utf8'),
        secretAad(tenantId, input.id, field.name),
      );
    }
  }
  const now = utcNow();
  const type = input.vendor.type;
  const configJson = JSON.stringify(config);
  const secretsJson = JSON.stringify(secrets);
  let revision: number;
  if (existing !== null) {
    const values = [type, configJson, secretsJson, now, tenantId, input.id, 0, String(existing.revision), tenantId, tenant.version];
    if ((await run(SQL_UPDATE, values)).affectedRows !== 1) return undefined;
    revision = Number(existing.revision) + 1;
  } else {
    try {
      const result = await run(SQL_INSERT, [input.id, type, configJson, secretsJson, now, now, tenantId, tenant.version]);
      if (result.affectedRows !== 1) return undefined;
    } catch (error) {
      if ((error as { code?: string }).code === 'ER_DUP_ENTRY') return undefined;
      throw error;
    }
    revision = 1;
  }
  // The answer echoes what was sent; secrets kept by the mask are shown masked or decrypted.
  const wire: Record<string, string> = { id: input.id, type };
  for (const field of input.vendor.fields) {
    const sent = fields[field.name];
    if (!field.secret) {
      if (config[field.name] !== undefined) wire[field.name] = config[field.name];
    } else if (secrets[field.name] !== undefined) {
      wire[field.name] =
        sent !== undefined && sent !== MASK ? sent : reveal ? decryptSecret(tenant, input.id, field.name, secrets[field.name]) : MASK;
    }
  }
  return { wire, revision, created: existing === null };
}

/**
 * Lost races (the row, the tenant or its key changed between the read and
 * the statement) and InnoDB deadlock victims go round again; the service
 * answers 409 after as many attempts.
 */
async function write(tenantId: string, input: Input, ifMatch: string | undefined, reveal: boolean): Promise<Written> {
  writeStats.writes++;
  const afterRead = needsStoredRow(input);
  for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
    try {
      const written = afterRead ? await writeAfterRead(tenantId, input, ifMatch, reveal) : await writeFromBody(tenantId, input, ifMatch);
      if (written !== undefined) return written;
      writeStats.lostRaces++;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ER_LOCK_DEADLOCK') writeStats.deadlocks++;
      else if (code === 'ER_LOCK_WAIT_TIMEOUT') writeStats.lockWaitTimeouts++;
      else throw error;
    }
  }
  writeStats.conflicts409++;
  throw new HttpError(409, 'The integration kept changing while this write was retried; send it again');
}

app.post<{ Params: Params }>('/tenants/:iid/integrations/:id', async (request, reply) => {
  const { iid, id } = request.params;
  const principal = authenticate(request, 'integrations:write', iid);
  checkId(id);
  const input = validateBody(request.body, id);
  const { wire, revision, created } = await write(iid, input, request.headers['if-match'], reveals(principal));
  void reply.status(created ? 201 : 200).header('etag', `"r${revision}"`);
  return wire;
});

/** For the bench only (loopback): how the writes went, read after each run. */
app.get('/bench/write-stats', async () => writeStats);

const shutdown = (): void => {
  void app
    .close()
    .then(() => new Promise((resolve) => pool.end(resolve)))
    .finally(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

app.listen({ port: PORT, host: '127.0.0.1' }).catch((error: unknown) => {
  process.stderr.write(`baseline: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
