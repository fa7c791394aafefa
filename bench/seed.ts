/**
 * Fast, realistic seeding straight into MariaDB: multi-row INSERTs through
 * mysql2, with every secret encrypted by the service's own functions
 * (src/crypto) and laid out by its own vendor registry, so the rows are exactly
 * what the API would have written.
 */
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import type { Pool, PoolConnection } from 'mysql2/promise';
import type { Configuration } from '../src/config/configuration';
import { DataKeyService } from '../src/crypto/data-key.service';
import { MasterKeyRing } from '../src/crypto/master-key-ring';
import { encryptSecret } from '../src/crypto/secret-cipher';
import { findVendor, VENDOR_TYPES, type Vendor } from '../src/integrations/vendors/registry';
import { toWire, type IntegrationWire } from '../src/integrations/wire-format';

/** The ten integrations of every tenant: all six vendor types, some of them twice (ids differ from the type). */
export const INTEGRATION_PLAN: readonly { id: string; type: string }[] = [
  { id: 'datasift', type: 'datasift' },
  { id: 'pusher', type: 'pusher' },
  { id: 'pusher-eu', type: 'pusher' },
  { id: 'salesforce', type: 'salesforce' },
  { id: 'salesforce-eu', type: 'salesforce' },
  { id: 'sendgrid', type: 'sendgrid' },
  { id: 'sendgrid-marketing', type: 'sendgrid' },
  { id: 'twilio', type: 'twilio' },
  { id: 'twilio-sms', type: 'twilio' },
  { id: 'urban-airship', type: 'urban-airship' },
];

export const INTEGRATION_IDS = INTEGRATION_PLAN.map((p) => p.id);

export function tenantId(index: number): string {
  return `tenant-${String(index).padStart(6, '0')}`;
}

function vendorOf(type: string): Vendor {
  const vendor = findVendor(type);
  if (vendor === undefined) throw new Error(`bench: vendor type '${type}' is not in the registry (known: ${VENDOR_TYPES.join(', ')})`);
  return vendor;
}

const B62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `length` characters of [A-Za-z0-9] drawn from a digest (repeated as needed). */
function b62(digest: Buffer, offset: number, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += B62[digest[(offset + i) % digest.length] % 62];
  return out;
}

/** A plausible value for one vendor field, derived from one digest per integration (deterministic, cheap). */
function fieldValue(tenant: string, type: string, field: string, digest: Buffer, n: number): string {
  const hex = digest.toString('hex');
  const o = n * 7;
  switch (`${type}.${field}`) {
    case 'salesforce.consumer-key':
      return `3MVG9${b62(digest, o, 80)}`;
    case 'salesforce.consumer-secret':
      return hex.toUpperCase();
    case 'salesforce.username':
      return `integration@${tenant}.example.com`;
    case 'salesforce.password':
      return `Pw-${b62(digest, o, 16)}`;
    case 'salesforce.secret-token':
      return b62(digest, o, 25);
    case 'salesforce.instance':
      return `https://${tenant}.my.salesforce.com`;
    case 'twilio.account':
      return `AC${hex}`.slice(0, 34);
    case 'twilio.password':
      return hex.slice(o % 32, (o % 32) + 32);
    case 'sendgrid.password':
      return `SG.${b62(digest, o, 22)}.${b62(digest, o + 3, 43)}`;
    case 'datasift.api-key':
      return hex.slice(0, 32);
    case 'pusher.key':
      return hex.slice(0, 20);
    case 'pusher.secret':
      return hex.slice(20, 40);
    case 'pusher.app-id':
      return String(100000 + (digest.readUInt32BE(0) % 900000));
    case 'urban-airship.username':
    case 'urban-airship.password':
      return b62(digest, o, 22);
    default:
      // account / username style fields, and any field a later vendor adds.
      return field === 'account' || field === 'username' ? `${tenant}-${b62(digest, o, 6).toLowerCase()}` : b62(digest, o, 24);
  }
}

/** The plaintext fields of one seeded integration (what a revealing GET must answer). */
export function seededFields(tenant: string, id: string, type: string): Record<string, string> {
  const digest = createHash('sha256').update(`${tenant}\0${id}`).digest();
  const fields: Record<string, string> = {};
  vendorOf(type).fields.forEach((field, n) => {
    const value = fieldValue(tenant, type, field.name, digest, n);
    if (value.length > field.maxLength) throw new Error(`bench: generated ${type}.${field.name} is longer than ${field.maxLength}`);
    fields[field.name] = value;
  });
  return fields;
}

export function expectedWire(tenant: string, id: string): IntegrationWire {
  const plan = INTEGRATION_PLAN.find((p) => p.id === id);
  if (plan === undefined) throw new Error(`bench: no integration '${id}' in the plan`);
  return toWire(vendorOf(plan.type), id, seededFields(tenant, id, plan.type));
}

/** The service's own DataKeyService, configured with the bench master key ring. */
export function benchDataKeys(encryptionKeys: string): DataKeyService {
  const config = {
    crypto: { ring: MasterKeyRing.parse(encryptionKeys), dataKeyCacheTtlMs: 0, dataKeyCacheSize: 0 },
  } as unknown as Configuration;
  return new DataKeyService(config);
}

function mysqlDatetime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

interface Batch {
  tenants: unknown[][];
  integrations: unknown[][];
}

function buildBatch(dataKeys: DataKeyService, from: number, to: number, now: string): Batch {
  const tenants: unknown[][] = [];
  const integrations: unknown[][] = [];
  for (let i = from; i < to; i++) {
    const tid = tenantId(i);
    // Version 1 and no previous key: a tenant as POST /tenants creates it, with no re-encryption in progress.
    const dataKey = dataKeys.generate(tid);
    tenants.push([tid, `Tenant ${i}`, dataKey.wrapped, null, dataKey.masterKeyId, 1, now, now, now]);
    for (const { id, type } of INTEGRATION_PLAN) {
      const vendor = vendorOf(type);
      const fields = seededFields(tid, id, type);
      // Same layout as IntegrationsService.save: vendor field order, config and secrets apart.
      const config: Record<string, string> = {};
      const secrets: Record<string, string> = {};
      for (const field of vendor.fields) {
        const value = fields[field.name];
        if (value === undefined) continue;
        if (field.secret)
          secrets[field.name] = encryptSecret(dataKey.key, 1, { tenantId: tid, integrationId: id, field: field.name }, value);
        else config[field.name] = value;
      }
      integrations.push([tid, id, type, JSON.stringify(config), JSON.stringify(secrets), 1, now, now]);
    }
  }
  return { tenants, integrations };
}

// A tenant that exists has a row; a deleted one has none (its tombstone is in deleted_tenants, which the bench leaves empty).
const TENANT_COLUMNS =
  'id, name, data_key_wrapped, previous_data_key_wrapped, master_key_id, data_key_version, data_key_created_at, created_at, updated_at';
const INTEGRATION_COLUMNS = 'tenant_id, id, type, config, secrets, revision, created_at, updated_at';
const ROWS_PER_INSERT = 2000;

async function insertBatch(connection: PoolConnection, batch: Batch): Promise<void> {
  await connection.beginTransaction();
  try {
    await connection.query(`INSERT INTO tenants (${TENANT_COLUMNS}) VALUES ?`, [batch.tenants]);
    for (let i = 0; i < batch.integrations.length; i += ROWS_PER_INSERT) {
      await connection.query(`INSERT INTO integrations (${INTEGRATION_COLUMNS}) VALUES ?`, [
        batch.integrations.slice(i, i + ROWS_PER_INSERT),
      ]);
    }
    await connection.commit();
  } catch (error) {
    await connection.rollback().catch(() => undefined);
    throw error;
  }
}

export interface SeedOptions {
  tenants: number;
  encryptionKeys: string;
  label: string;
  log: (line: string) => void;
}

/**
 * Seeds `tenants` × 10 integrations into the (migrated, empty) database of `pool`.
 * Rows are built in the bench process while MariaDB inserts the previous batches
 * (up to two in flight, on their own connections, foreign-key checks off for the
 * session since the rows are consistent by construction).
 */
export async function seedDatabase(pool: Pool, options: SeedOptions): Promise<{ seconds: number }> {
  const dataKeys = benchDataKeys(options.encryptionKeys);
  const now = mysqlDatetime(new Date());
  const started = Date.now();
  const batchTenants = Math.max(1, Math.min(1000, Math.ceil(options.tenants / 4)));
  const connections = await Promise.all([pool.getConnection(), pool.getConnection()]);
  for (const connection of connections) await connection.query('SET SESSION foreign_key_checks = 0, SESSION unique_checks = 0');
  const inFlight = new Map<number, Promise<void>>();
  const free = [...connections];
  let done = 0;
  let lastReport = 0;
  const report = (force = false): void => {
    const elapsed = (Date.now() - started) / 1000;
    if (!force && elapsed - lastReport < 3) return;
    lastReport = elapsed;
    const rate = done > 0 ? Math.round((done * INTEGRATION_PLAN.length) / elapsed) : 0;
    const pct = ((done / options.tenants) * 100).toFixed(0);
    options.log(
      `  ${options.label}: ${done.toLocaleString('en-US')}/${options.tenants.toLocaleString('en-US')} tenants (${pct}%), ` +
        `${(done * INTEGRATION_PLAN.length).toLocaleString('en-US')} integrations, ${elapsed.toFixed(1)} s, ${rate.toLocaleString('en-US')} rows/s`,
    );
  };
  try {
    for (let from = 0, n = 0; from < options.tenants; from += batchTenants, n++) {
      const to = Math.min(options.tenants, from + batchTenants);
      const batch = buildBatch(dataKeys, from, to, now);
      while (free.length === 0) await Promise.race(inFlight.values());
      const connection = free.pop() as PoolConnection;
      const job = insertBatch(connection, batch).then(() => {
        inFlight.delete(n);
        free.push(connection);
        done += to - from;
        report();
      });
      inFlight.set(n, job);
    }
    await Promise.all(inFlight.values());
  } finally {
    for (const connection of connections) {
      await connection.query('SET SESSION foreign_key_checks = 1, SESSION unique_checks = 1').catch(() => undefined);
      connection.release();
    }
  }
  report(true);
  return { seconds: (Date.now() - started) / 1000 };
}
