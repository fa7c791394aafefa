import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { sign, type SignOptions } from 'jsonwebtoken';
import { createConnection } from 'mysql2/promise';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { buildOpenApiDocument, createApp } from '../../src/app.setup';
import { loadConfiguration, type Configuration } from '../../src/config/configuration';
import { DatabaseService } from '../../src/database/database.service';
import { VENDORS } from '../../src/integrations/vendors/registry';
import { contractFor, installContractCheck, type OpenApiContract } from './openapi-contract';

export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-bytes-long!';
/** Two fixed master keys for tests (never used anywhere else). */
export const TEST_KEY_A = `test-a:${Buffer.alloc(32, 7).toString('base64')}`;
export const TEST_KEY_B = `test-b:${Buffer.alloc(32, 9).toString('base64')}`;

export interface TestApp {
  app: NestFastifyApplication;
  config: Configuration;
  http: () => TestAgent;
  db: DatabaseService;
  /** The OpenAPI document this app serves, compiled: every answer is checked against it (issue 17). */
  contract: OpenApiContract;
  /** A tenant id no other test (or earlier run on a shared database) uses. */
  uniqueId: (prefix: string) => string;
  close: () => Promise<void>;
}

/**
 * The database under test: SQLite in a fresh temporary file unless
 * DATABASE_URL names MySQL/MariaDB, which must be a database with "test" in
 * its name (these tests write to it).
 */
function databaseEnv(dir: string): Record<string, string> {
  const url = process.env.DATABASE_URL;
  if (url === undefined || url === '' || url.startsWith('sqlite:')) return { DATABASE_URL: `sqlite:${join(dir, 'test.sqlite')}` };
  const name = new URL(url).pathname.slice(1);
  if (!/test/i.test(name)) throw new Error(`Refusing to run e2e tests on database '${name}': its name must contain "test"`);
  return { DATABASE_URL: url };
}

/**
 * A MySQL database of the test's own beside the shared one (SQLite files are
 * private already), for tests whose data must not meet other suites' rows,
 * such as key rotation. Returns its URL and a function that drops it.
 */
export async function ownMysqlDatabase(url: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const parsed = new URL(url);
  const name = `${parsed.pathname.slice(1)}_${Math.random().toString(36).slice(2, 8)}`;
  parsed.pathname = '';
  const admin = await createConnection(parsed.toString());
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  await admin.end();
  parsed.pathname = `/${name}`;
  return {
    url: parsed.toString(),
    drop: async () => {
      parsed.pathname = '';
      const connection = await createConnection(parsed.toString());
      await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await connection.end();
    },
  };
}

/**
 * Boots the real AppModule through the same setup as main.ts. Every answer it
 * gives is checked against the OpenAPI document it serves (see
 * openapi-contract.ts); contract-setup.ts fails the test that got one the
 * document does not describe.
 */
/**
 * Every vendor's base URL on a closed loopback port unless a test names its
 * own (the fake vendors' env): a credential check that no test asked for (the
 * scheduler, once a fuzzed tenant turns checks on) must never leave the
 * machine. Port 9 (discard) has no listener here: the call is refused at once.
 */
export const NO_VENDORS: Record<string, string> = Object.fromEntries(VENDORS.map((vendor) => [vendor.baseUrlEnv, 'http://127.0.0.1:9']));

export async function startTestApp(env: Record<string, string> = {}, options: { ownDatabase?: boolean } = {}): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'integrations-e2e-'));
  const shared = databaseEnv(dir);
  const own = options.ownDatabase && shared.DATABASE_URL.startsWith('mysql') ? await ownMysqlDatabase(shared.DATABASE_URL) : undefined;
  const config = loadConfiguration({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: dir,
    JWT_SECRET: TEST_JWT_SECRET,
    // Both test keys, so a suite on a shared database can read what an earlier rotation test left.
    ENCRYPTION_KEYS: `${TEST_KEY_A},${TEST_KEY_B}`,
    RATE_LIMIT_MAX: '0',
    ...NO_VENDORS,
    ...shared,
    ...(own ? { DATABASE_URL: own.url } : {}),
    ...env,
  });
  const app = await createApp(config);
  const contract = contractFor(buildOpenApiDocument(app));
  installContractCheck(app.getHttpAdapter().getInstance(), contract);
  await app.getHttpAdapter().getInstance().ready();
  const run = Math.random().toString(36).slice(2, 8);
  let counter = 0;
  return {
    app,
    config,
    http: () => request(app.getHttpServer()),
    db: app.get(DatabaseService),
    contract,
    uniqueId: (prefix) => `${prefix}-${run}-${++counter}`,
    close: async () => {
      // Leave a shared database as we found it: only this run's rows carry its marker.
      const db = app.get(DatabaseService);
      await db.query('DELETE FROM integrations WHERE tenant_id LIKE ?', [`%-${run}-%`]);
      await db.query('DELETE FROM api_client_revocations WHERE tenant_id LIKE ?', [`%-${run}-%`]);
      await db.query('DELETE FROM tenants WHERE id LIKE ?', [`%-${run}-%`]);
      await db.query('DELETE FROM deleted_tenants WHERE id LIKE ?', [`%-${run}-%`]);
      // Whole chains of this run's tenants: what stays behind on a shared database still verifies.
      await db.query('DELETE FROM audit_events WHERE tenant_id LIKE ?', [`%-${run}-%`]);
      await db.query('DELETE FROM audit_chain_anchors WHERE tenant_id LIKE ?', [`%-${run}-%`]);
      await app.close();
      await own?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TokenClaims {
  sub?: string;
  scope?: string;
  tenants?: string[];
  [claim: string]: unknown;
}

/** A token as the platform's identity provider would sign it (HS256, test secret, right iss/aud). */
export function token(claims: TokenClaims, options: SignOptions = {}, secret: string = TEST_JWT_SECRET): string {
  return sign({ sub: 'test-user', ...claims }, secret, {
    algorithm: 'HS256',
    issuer: 'integrations-api',
    audience: 'integrations-api',
    expiresIn: 600,
    ...options,
  });
}

export const adminToken = (): string => token({ scope: 'platform:admin' });

export const bearer = (jwt: string): [string, string] => ['Authorization', `Bearer ${jwt}`];

/** Creates a tenant as a platform admin and returns its id. */
export async function createTenant(t: TestApp, prefix = 'tenant'): Promise<string> {
  const id = t.uniqueId(prefix);
  const response = await t
    .http()
    .post('/tenants')
    .set(...bearer(adminToken()))
    .send({ id, name: `Tenant ${id}` });
  if (response.status !== 201) throw new Error(`creating tenant ${id} answered ${response.status}: ${JSON.stringify(response.body)}`);
  return id;
}
