import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { adminToken, bearer, createTenant, startTestApp, token, type TestApp } from './helpers/test-app';

/** Every row of every table, as text: what a database dump would hold. */
async function dumpAll(t: TestApp): Promise<string> {
  const tables = ['tenants', 'integrations', 'key_rotations', 'migrations'];
  const rows = await Promise.all(tables.map((table) => t.db.query(`SELECT * FROM ${table}`)));
  let dump = JSON.stringify(rows);
  // On SQLite the file itself is the dump (WAL included).
  if (t.config.database.kind === 'sqlite') {
    for (const suffix of ['', '-wal']) {
      try {
        dump += readFileSync(t.config.database.path + suffix).toString('latin1');
      } catch {
        // no WAL file yet
      }
    }
  }
  return dump;
}

describe('Secrets at rest', () => {
  let t: TestApp;
  const admin = bearer(adminToken());

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('stores no secret value in the database, only enc:v1 envelopes, while non-secret fields stay plain JSON', async () => {
    const tenant = await createTenant(t, 'dump');
    const secrets = { 'consumer-secret': `cs-${randomBytes(12).toString('hex')}`, password: `pw-${randomBytes(12).toString('hex')}`, 'secret-token': `st-${randomBytes(12).toString('hex')}` };
    const response = await t
      .http()
      .post(`/tenants/${tenant}/integrations/salesforce`)
      .set(...admin)
      .send({ 'consumer-key': 'ck-plain', username: 'user@plain.test', ...secrets });
    expect(response.status).toBe(201);

    const dump = await dumpAll(t);
    for (const value of Object.values(secrets)) expect(dump).not.toContain(value);
    const [row] = await t.db.query<{ config: string; secrets: string }>('SELECT config, secrets FROM integrations WHERE tenant_id = ?', [tenant]);
    expect(JSON.parse(row.config)).toEqual({ 'consumer-key': 'ck-plain', username: 'user@plain.test' });
    const envelopes = JSON.parse(row.secrets) as Record<string, string>;
    expect(Object.keys(envelopes).sort()).toEqual(Object.keys(secrets).sort());
    for (const envelope of Object.values(envelopes)) expect(envelope).toMatch(/^enc:v1:dek-1:[\w-]{16}:[\w-]+:[\w-]{22}$/);
    // A fresh IV each time: the same value twice gives two different ciphertexts.
    await t.http().post(`/tenants/${tenant}/integrations/twilio-a`).set(...admin).send({ type: 'twilio', account: 'a', password: 'same' });
    await t.http().post(`/tenants/${tenant}/integrations/twilio-b`).set(...admin).send({ type: 'twilio', account: 'a', password: 'same' });
    const twins = await t.db.query<{ secrets: string }>("SELECT secrets FROM integrations WHERE tenant_id = ? AND id LIKE 'twilio-%'", [tenant]);
    expect(twins[0].secrets).not.toBe(twins[1].secrets);
  });

  it('a ciphertext copied into another row or tenant never decrypts: a clean 500, no data', async () => {
    const a = await createTenant(t, 'copy-a');
    const b = await createTenant(t, 'copy-b');
    for (const tenant of [a, b]) {
      await t.http().post(`/tenants/${tenant}/integrations/twilio`).set(...admin).send({ account: `acc-${tenant}`, password: `secret-of-${tenant}` });
      await t.http().post(`/tenants/${tenant}/integrations/sendgrid`).set(...admin).send({ account: 'u', password: `sg-${tenant}` });
    }
    const [fromA] = await t.db.query<{ secrets: string }>("SELECT secrets FROM integrations WHERE tenant_id = ? AND id = 'twilio'", [a]);

    // Into another tenant's row of the same id and field.
    await t.db.query("UPDATE integrations SET secrets = ? WHERE tenant_id = ? AND id = 'twilio'", [fromA.secrets, b]);
    // Into another integration of the same tenant (same field name).
    await t.db.query("UPDATE integrations SET secrets = ? WHERE tenant_id = ? AND id = 'sendgrid'", [fromA.secrets, a]);

    for (const [tenant, id] of [
      [b, 'twilio'],
      [a, 'sendgrid'],
    ]) {
      const response = await t.http().get(`/tenants/${tenant}/integrations/${id}`).set(...admin);
      expect(response.status).toBe(500);
      expect(response.body.error).toMatch(/could not be decrypted/);
      expect(JSON.stringify(response.body)).not.toMatch(/secret-of-|sg-|enc:v1/);
    }
    // Masked reads do not need to decrypt, and the untouched row still reads back.
    const masked = await t.http().get(`/tenants/${b}/integrations/twilio`).set(...bearer(token({ scope: 'integrations:read', tenants: [b] })));
    expect(masked.body.password).toBe('********');
    expect((await t.http().get(`/tenants/${a}/integrations/twilio`).set(...admin)).body.password).toBe(`secret-of-${a}`);
  });

  it('a wrapped data key copied to another tenant does not unwrap', async () => {
    const a = await createTenant(t, 'dek-a');
    const b = await createTenant(t, 'dek-b');
    await t.http().post(`/tenants/${b}/integrations/twilio`).set(...admin).send({ account: 'x', password: 'only-b-knows' });
    const [keyA] = await t.db.query<{ data_key_wrapped: string }>('SELECT data_key_wrapped FROM tenants WHERE id = ?', [a]);
    await t.db.query('UPDATE tenants SET data_key_wrapped = ? WHERE id = ?', [keyA.data_key_wrapped, b]);
    // The app may still hold b's unwrapped key in memory; a fresh instance reads only the database.
    const fresh = await startTestApp({ ...(t.config.database.kind === 'sqlite' ? { DATABASE_URL: `sqlite:${t.config.database.path}` } : {}), MIGRATIONS_RUN: 'false' });
    try {
      const response = await fresh.http().get(`/tenants/${b}/integrations/twilio`).set(...admin);
      expect(response.status).toBe(500);
      expect(JSON.stringify(response.body)).not.toContain('only-b-knows');
    } finally {
      await fresh.app.close();
    }
  });
});
