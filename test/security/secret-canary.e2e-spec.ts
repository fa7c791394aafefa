import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { sign } from 'jsonwebtoken';
import { startFakeVendors, type FakeVendors } from '../fakes/fake-vendors';
import {
  buildIfNeeded,
  isMysqlUrl,
  openDatabase,
  removeDir,
  sharedDatabaseUrl,
  startChildApp,
  tempDir,
  type ChildApp,
} from '../helpers/child-app';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';
import { basicAuth, form } from '../helpers/clients';
import { adminToken, TEST_JWT_SECRET, token } from '../helpers/test-app';

/**
 * Issue #5, secrets never leak: every secret field of every vendor gets a
 * unique random canary; a whole scenario runs against `node dist/main.js` at
 * LOG_LEVEL=debug, failures included (validation errors, bad tokens, the
 * database down, a ciphertext that no longer decrypts, vendors that echo the
 * credentials back). Then every captured log line, every response header and
 * body, and the OpenAPI document are searched for the canaries: they may
 * appear only where the contract shows them (the echo of a write, to its
 * writer; a GET by a token with integrations:secrets).
 */
const MYSQL = isMysqlUrl(process.env.DATABASE_URL);

/** The secret fields of each vendor, as SPEC.md lists them, and the field the fake vendors read as identity. */
const VENDORS: { type: string; identity: string; plain: Record<string, string>; secrets: string[] }[] = [
  {
    type: 'salesforce',
    identity: 'username',
    plain: { 'consumer-key': 'ck-plain', username: 'echo' },
    secrets: ['consumer-secret', 'password', 'secret-token'],
  },
  { type: 'twilio', identity: 'account', plain: { account: 'echo' }, secrets: ['password'] },
  { type: 'sendgrid', identity: 'account', plain: { account: 'echo' }, secrets: ['password'] },
  { type: 'datasift', identity: 'username', plain: { username: 'echo' }, secrets: ['api-key'] },
  { type: 'pusher', identity: 'key', plain: { key: 'echo', 'app-id': '1234567' }, secrets: ['secret'] },
  { type: 'urban-airship', identity: 'username', plain: { username: 'echo' }, secrets: ['password'] },
];

interface Exchange {
  label: string;
  status: number;
  headers: string;
  body: string;
  /** Canaries this answer may show. */
  allowed: ReadonlySet<string>;
}

describe('Security: secrets never leak (canaries)', () => {
  let child: ChildApp | undefined;
  let fakes: FakeVendors | undefined;
  let proxy: TcpProxy | undefined;
  let dir: string;
  const canaries = new Map<string, string>();
  const exchanges: Exchange[] = [];

  /** A fresh canary for one field; the map remembers what it stands for. */
  function canary(what: string): string {
    const value = `cnry${randomBytes(10).toString('hex')}`;
    canaries.set(value, what);
    return value;
  }

  /** A secret the service made (a client secret, an access token), searched for like a canary. */
  function track(value: string, what: string): string {
    canaries.set(value, what);
    return value;
  }

  const canariesIn = (value: unknown): string[] => {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    return [...canaries.keys()].filter((c) => text.includes(c));
  };

  async function call(
    label: string,
    method: string,
    path: string,
    options: { jwt?: string; body?: unknown; raw?: string; type?: string; allowed?: Iterable<string>; headers?: Record<string, string> } = {},
  ): Promise<Exchange> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.jwt !== undefined) headers.authorization = `Bearer ${options.jwt}`;
    const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    if (payload !== undefined) headers['content-type'] = options.type ?? 'application/json';
    const response = await fetch(`${child!.url}${path}`, { method, headers, body: payload });
    const exchange: Exchange = {
      label,
      status: response.status,
      headers: JSON.stringify([...response.headers]),
      body: await response.text(),
      allowed: new Set(options.allowed ?? []),
    };
    exchanges.push(exchange);
    return exchange;
  }

  beforeAll(async () => {
    buildIfNeeded();
    dir = tempDir('integrations-canary');
    fakes = await startFakeVendors();
  });
  afterAll(async () => {
    await child?.kill();
    await fakes?.close();
    await proxy?.close();
    removeDir(dir);
  });

  it('shows no canary anywhere but in the echo of a write and in a GET with integrations:secrets', async () => {
    let databaseUrl = sharedDatabaseUrl(dir);
    if (MYSQL) {
      const target = new URL(databaseUrl);
      proxy = await startTcpProxy(target.hostname, Number(target.port || 3306));
      target.hostname = '127.0.0.1';
      target.port = String(proxy.port);
      databaseUrl = target.toString();
    }
    child = await startChildApp(
      { ...fakes!.env, LOG_LEVEL: 'debug', LOG_REQUESTS: 'true', DATABASE_URL: databaseUrl, VERIFY_TIMEOUT_MS: '2000' },
      dir,
    );
    const database = await openDatabase(sharedDatabaseUrl(dir));

    const tenant = `canary-${randomBytes(4).toString('hex')}`;
    const admin = adminToken();
    const writer = token({ scope: 'integrations:read integrations:write', tenants: [tenant] });
    const reader = token({ scope: 'integrations:read', tenants: [tenant] });
    const revealer = token({ scope: 'integrations:read integrations:secrets', tenants: [tenant] });
    const base = `/tenants/${tenant}/integrations`;
    expect((await call('create tenant', 'POST', '/tenants', { jwt: admin, body: { id: tenant, name: 'Canary tenant' } })).status).toBe(201);

    // 1. Every secret of every vendor, stored; the answer echoes what was sent (allowed).
    const stored = new Map<string, string[]>();
    for (const vendor of VENDORS) {
      const secrets = Object.fromEntries(vendor.secrets.map((field) => [field, canary(`${vendor.type}.${field}`)]));
      stored.set(vendor.type, Object.values(secrets));
      const body = { type: vendor.type, ...vendor.plain, ...secrets };
      const saved = await call(`save ${vendor.type}`, 'POST', `${base}/${vendor.type}`, {
        jwt: writer,
        body,
        allowed: Object.values(secrets),
      });
      expect(saved.status).toBe(201);
    }
    const all = [...stored.values()].flat();

    // 2. Reads: masked without integrations:secrets, plain with it.
    for (const vendor of VENDORS) {
      const masked = await call(`read ${vendor.type} masked`, 'GET', `${base}/${vendor.type}`, { jwt: reader });
      expect(masked.status).toBe(200);
      expect(
        await call(`read ${vendor.type} revealed`, 'GET', `${base}/${vendor.type}`, { jwt: revealer, allowed: stored.get(vendor.type) }),
      ).toMatchObject({ status: 200 });
    }
    expect((await call('list masked', 'GET', base, { jwt: reader })).status).toBe(200);
    expect((await call('list masked by a writer', 'GET', base, { jwt: writer })).status).toBe(200);
    expect((await call('list revealed', 'GET', base, { jwt: revealer, allowed: all })).status).toBe(200);

    // 3. Writes that keep secrets: the mask sent back, a PATCH of one secret (its echo allowed), a PATCH of a plain field.
    const newPassword = canary('twilio.password (patched)');
    expect(
      (await call('patch one secret', 'PATCH', `${base}/twilio`, { jwt: writer, body: { password: newPassword }, allowed: [newPassword] }))
        .status,
    ).toBe(200);
    stored.set('twilio', [newPassword]);
    expect(
      (await call('patch a plain field', 'PATCH', `${base}/salesforce`, { jwt: writer, body: { 'consumer-key': 'ck-2' } })).status,
    ).toBe(200);
    expect(
      (await call('replace sending the mask', 'POST', `${base}/sendgrid`, { jwt: writer, body: { account: 'echo', password: '********' } }))
        .status,
    ).toBe(200);

    // 4. Validation failures carrying secrets: none may be quoted back.
    const rejected = (what: string): string => canary(`rejected ${what}`);
    for (const [label, body, raw, type] of [
      ['unknown field', { account: 'x', password: rejected('password'), extra: rejected('extra field') }],
      ['secret too long', { account: 'x', password: `${rejected('long password')}${'x'.repeat(5000)}` }],
      ['secret of the wrong type', { account: 'x', password: [rejected('password in an array')] }],
      ['secret as an object', { account: 'x', password: { value: rejected('password in an object') } }],
      ['unknown type', { type: 'not-a-vendor', account: 'x', password: rejected('password, unknown type') }],
      ['id mismatch', { id: 'other', account: 'x', password: rejected('password, id mismatch') }],
      ['looks encrypted', { account: 'x', password: `enc:v1:dek-1:${rejected('envelope-like password')}` }],
      ['malformed JSON', undefined, `{"account":"x","password":"${rejected('password in broken JSON')}"`],
      ['prototype pollution', undefined, `{"__proto__":{"x":1},"account":"x","password":"${rejected('password beside __proto__')}"}`],
      ['not JSON', undefined, `account=x&password=${rejected('form-encoded password')}`, 'application/x-www-form-urlencoded'],
      ['too large', undefined, JSON.stringify({ account: 'x', password: `${rejected('password in a huge body')}${'x'.repeat(70_000)}` })],
    ] as [string, unknown, string | undefined, string | undefined][]) {
      const answer = await call(`invalid: ${label}`, 'POST', `${base}/twilio`, { jwt: writer, body, raw, type });
      expect({ label, status: answer.status }).toEqual({ label, status: expect.any(Number) });
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
    }
    expect(
      (
        await call('patch: unknown field and wrong type', 'PATCH', `${base}/twilio`, {
          jwt: writer,
          body: { password: 42, nope: rejected('patch extra') },
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await call('patch: change of type', 'PATCH', `${base}/twilio`, {
          jwt: writer,
          body: { type: 'sendgrid', password: rejected('patch with type change') },
        })
      ).status,
    ).toBe(400);

    // 5. Bad tokens, one of them a canary itself (Authorization must never be logged).
    expect(
      (await call('no token', 'POST', `${base}/twilio`, { body: { account: 'x', password: rejected('password, no token') } })).status,
    ).toBe(401);
    expect(
      (
        await call('garbage token', 'POST', `${base}/twilio`, {
          jwt: rejected('bearer token'),
          body: { account: 'x', password: rejected('password, bad token') },
        })
      ).status,
    ).toBe(401);
    const expired = sign(
      {
        sub: 'late',
        scope: 'integrations:read integrations:secrets',
        tenants: [tenant],
        iss: 'integrations-api',
        aud: 'integrations-api',
        exp: Math.floor(Date.now() / 1000) - 3600,
      },
      TEST_JWT_SECRET,
    );
    expect((await call('expired revealing token', 'GET', base, { jwt: expired })).status).toBe(401);
    expect(
      (
        await call('foreign tenant', 'GET', `/tenants/${tenant}/integrations`, {
          jwt: token({ scope: 'integrations:read integrations:secrets', tenants: ['other'] }),
        })
      ).status,
    ).toBe(403);

    // 5b. API clients (issue 13): a client secret is shown once, in the answer that makes it; an access token only in
    // the answer of POST /token. Neither may appear anywhere else: not in a log line, not in another answer.
    const clientWriter = token({ scope: 'clients:write integrations:read integrations:secrets', tenants: [tenant] });
    const created = await call('create an API client', 'POST', `/tenants/${tenant}/api-clients`, {
      jwt: clientWriter,
      body: { name: 'Canary client', scope: 'integrations:read integrations:secrets' },
    });
    expect(created.status).toBe(201);
    const apiClient = JSON.parse(created.body) as { 'client-id': string; 'client-secret': string };
    created.allowed = new Set([track(apiClient['client-secret'], 'client secret (at creation)')]);
    const clientBasic = basicAuth(apiClient['client-id'], apiClient['client-secret']);
    const issued = await call('POST /token (Basic)', 'POST', '/token', {
      raw: form({ grant_type: 'client_credentials' }),
      type: 'application/x-www-form-urlencoded',
      headers: { authorization: clientBasic },
    });
    expect(issued.status).toBe(200);
    const accessToken = track((JSON.parse(issued.body) as { access_token: string }).access_token, 'access token');
    issued.allowed = new Set([accessToken]);
    const formIssued = await call('POST /1.0/oauth/token (form fields)', 'POST', '/1.0/oauth/token', {
      raw: form({ grant_type: 'client_credentials', client_id: apiClient['client-id'], client_secret: apiClient['client-secret'] }),
      type: 'application/x-www-form-urlencoded',
    });
    expect(formIssued.status).toBe(200);
    formIssued.allowed = new Set([track((JSON.parse(formIssued.body) as { access_token: string }).access_token, 'access token (form)')]);
    expect((await call('read with the access token', 'GET', `${base}/twilio`, { jwt: accessToken, allowed: stored.get('twilio') })).status).toBe(200);
    expect((await call('list clients', 'GET', `/tenants/${tenant}/api-clients`, { jwt: clientWriter })).status).toBe(200);
    expect((await call('read the client', 'GET', `/tenants/${tenant}/api-clients/${apiClient['client-id']}`, { jwt: clientWriter })).status).toBe(200);
    // Failures: a wrong secret (itself a canary) by Basic and by form, credentials in the query string, a bad scope.
    const wrongSecret = rejected('wrong client secret');
    for (const [label, path, raw, headers] of [
      ['wrong secret by Basic', '/token', form({ grant_type: 'client_credentials' }), { authorization: basicAuth(apiClient['client-id'], wrongSecret) }],
      ['wrong secret by form', '/token', form({ grant_type: 'client_credentials', client_id: apiClient['client-id'], client_secret: wrongSecret }), {}],
      ['secret in the query string', `/token?client_id=${apiClient['client-id']}&client_secret=${rejected('client secret in a URL')}`, form({ grant_type: 'client_credentials' }), {}],
      ['unknown grant with the secret', '/token', form({ grant_type: 'password', password: rejected('password grant') }), { authorization: clientBasic }],
      ['scope beyond the client', '/token', form({ grant_type: 'client_credentials', scope: 'integrations:write' }), { authorization: clientBasic }],
      ['secret as JSON', '/token', JSON.stringify({ grant_type: 'client_credentials', client_secret: rejected('client secret as JSON') }), {}],
    ] as [string, string, string, Record<string, string>][]) {
      const type = raw.startsWith('{') ? 'application/json' : 'application/x-www-form-urlencoded';
      const answer = await call(`token failure: ${label}`, 'POST', path, { raw, type, headers });
      expect({ label, status: answer.status }).toEqual({ label, status: expect.any(Number) });
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
    }
    const rotated = await call('rotate the client secret', 'POST', `/tenants/${tenant}/api-clients/${apiClient['client-id']}/secret`, { jwt: clientWriter });
    expect(rotated.status).toBe(200);
    rotated.allowed = new Set([track((JSON.parse(rotated.body) as { 'client-secret': string })['client-secret'], 'client secret (rotated)')]);
    expect((await call('delete the client', 'DELETE', `/tenants/${tenant}/api-clients/${apiClient['client-id']}`, { jwt: clientWriter })).status).toBe(204);
    expect((await call('read with a revoked access token', 'GET', `${base}/twilio`, { jwt: accessToken })).status).toBe(401);
    expect(
      (await call('POST /token after the delete', 'POST', '/token', { raw: form({ grant_type: 'client_credentials' }), type: 'application/x-www-form-urlencoded', headers: { authorization: clientBasic } }))
        .status,
    ).toBe(401);

    // 6. Vendors that echo the credentials in their errors: the verification answer must not repeat them.
    for (const vendor of VENDORS) {
      const verified = await call(`verify ${vendor.type} (vendor echoes)`, 'POST', `${base}/${vendor.type}/verify`, { jwt: writer });
      expect({ vendor: vendor.type, status: verified.status }).toEqual({ vendor: vendor.type, status: expect.any(Number) });
      await call(`last verification of ${vendor.type}`, 'GET', `${base}/${vendor.type}/verification`, { jwt: reader });
    }

    // 7. A ciphertext copied to another row (SQL behind the API's back): it must fail to decrypt, quietly.
    const [twilioRow] = await database.query<{ secrets: string }[]>('SELECT secrets FROM integrations WHERE tenant_id = ? AND id = ?', [
      tenant,
      'twilio',
    ]);
    await database.query('UPDATE integrations SET secrets = ? WHERE tenant_id = ? AND id = ?', [twilioRow.secrets, tenant, 'sendgrid']);
    const unreadable = await call('read a moved ciphertext', 'GET', `${base}/sendgrid`, { jwt: revealer });
    expect(unreadable.status).toBe(500);
    expect(JSON.parse(unreadable.body)).toEqual(expect.objectContaining({ error: expect.any(String) }));
    await call('list with a moved ciphertext', 'GET', base, { jwt: revealer });
    await call('verify a moved ciphertext', 'POST', `${base}/sendgrid/verify`, { jwt: writer });
    expect((await call('read a moved ciphertext, masked', 'GET', `${base}/sendgrid`, { jwt: reader })).status).toBe(200);

    // 8. The database down while secrets come and go.
    let locker: Database.Database | undefined;
    if (proxy) await proxy.stop();
    else {
      locker = new Database(sharedDatabaseUrl(dir).slice('sqlite:'.length));
      locker.pragma('busy_timeout = 5000');
      locker.exec('BEGIN IMMEDIATE');
    }
    try {
      for (const vendor of VENDORS) {
        const secrets = Object.fromEntries(
          vendor.secrets.map((field) => [field, rejected(`${vendor.type}.${field} while the database is down`)]),
        );
        const down = await call(`save ${vendor.type} with the database down`, 'POST', `${base}/${vendor.type}`, {
          jwt: writer,
          body: { type: vendor.type, ...vendor.plain, ...secrets },
        });
        expect(down.status).toBe(503);
      }
      expect(
        (
          await call('patch with the database down', 'PATCH', `${base}/twilio`, {
            jwt: writer,
            body: { password: rejected('patch, database down') },
          })
        ).status,
      ).toBe(503);
      await call('reveal with the database down', 'GET', `${base}/twilio`, { jwt: revealer, allowed: stored.get('twilio') });
      await call('verify with the database down', 'POST', `${base}/twilio/verify`, { jwt: writer });
      await call('readiness with the database down', 'GET', '/health/ready');
    } finally {
      if (proxy) await proxy.start();
      locker?.exec('ROLLBACK');
      locker?.close();
    }
    for (let i = 0; i < 50 && (await fetch(`${child.url}/health/ready`)).status !== 200; i++)
      await new Promise((resolve) => setTimeout(resolve, 200));

    // 9. The documentation and the type list.
    for (const path of ['/docs-json', '/docs', '/integration-types', '/health/live', '/health/ready', '/.well-known/jwks.json', '/.well-known/oauth-authorization-server'])
      await call(`GET ${path}`, 'GET', path, { jwt: admin });

    // At rest: no canary in any column of the database.
    const rows = await database.query<Record<string, unknown>[]>('SELECT * FROM integrations WHERE tenant_id = ?', [tenant]);
    // API clients keep only scrypt hashes of their secrets.
    const clientRows = await database.query<Record<string, unknown>[]>('SELECT * FROM api_clients WHERE tenant_id = ?', [tenant]);
    // The audit trail names what was done and by whom, never with what secret.
    const auditRows = await database.query<Record<string, unknown>[]>('SELECT * FROM audit_events WHERE tenant_id = ?', [tenant]);
    expect(auditRows.length).toBeGreaterThan(0);
    const atRest = canariesIn([rows, clientRows, auditRows]);
    await database.query('DELETE FROM integrations WHERE tenant_id = ?', [tenant]);
    await database.query('DELETE FROM tenants WHERE id = ?', [tenant]);
    await database.query('DELETE FROM audit_events WHERE tenant_id = ?', [tenant]);
    await database.destroy();

    // Stop the service so that everything it had to say is written, then search.
    child.process.kill('SIGTERM');
    await child.exited;
    const log = child.output();
    // The capture works: request lines name the tenant in their URL, and the failures were logged.
    expect(log).toContain(tenant);
    expect(log).toMatch(/failed to decrypt/);

    const hits: string[] = [];
    for (const exchange of exchanges) {
      for (const found of canariesIn(exchange.headers)) hits.push(`${exchange.label}: header shows ${canaries.get(found)}`);
      for (const found of canariesIn(exchange.body)) {
        if (!exchange.allowed.has(found)) hits.push(`${exchange.label} (${exchange.status}): body shows ${canaries.get(found)}`);
      }
    }
    for (const found of canariesIn(log)) {
      const line = log.split('\n').find((l) => l.includes(found)) ?? '';
      hits.push(`log shows ${canaries.get(found)}: ${line.slice(0, 300)}`);
    }
    for (const found of atRest) hits.push(`database holds ${canaries.get(found)} in plaintext`);

    const allowedShown = exchanges.reduce((n, e) => n + canariesIn(e.body).filter((c) => e.allowed.has(c)).length, 0);
    console.log(
      `${canaries.size} canaries, ${exchanges.length} responses, ${log.split('\n').length} log lines: ${hits.length} hits outside the allowed responses ` +
        `(${allowedShown} allowed sightings in write echoes and revealing GETs)`,
    );
    expect(hits).toEqual([]);
    // The allowed places did show them: the search itself works.
    expect(allowedShown).toBeGreaterThan(0);
  });
});
