import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfiguration } from './configuration';

const base = () => ({
  DATA_DIR: mkdtempSync(join(tmpdir(), 'config-spec-')),
  JWT_SECRET: 'a-secret-that-is-at-least-32-bytes-long',
  ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
});

describe('loadConfiguration', () => {
  it.each([
    [{ PORT: 'abc' }, "PORT must be an integer from 0 to 65535 (got 'abc')"],
    [{ ENCRYPTION_KEYS: 'k1:c2hvcnQ=' }, "ENCRYPTION_KEYS key 'k1' must decode to 32 bytes for AES-256 (it has 5; run npm run keys:generate)"],
    [{ ENCRYPTION_KEYS: 'no-colon' }, 'ENCRYPTION_KEYS entry 1 must be id:base64key with an id of 1-32 letters, digits, ".", "_" or "-" (run npm run keys:generate)'],
    [{ ENCRYPTION_KEYS: `k1:${Buffer.alloc(32).toString('base64')},k1:${Buffer.alloc(32).toString('base64')}` }, "ENCRYPTION_KEYS lists key id 'k1' twice"],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET must be at least 32 bytes long (HS256 needs 256 bits of secret)'],
    [{ JWT_PUBLIC_KEY: 'not a pem', JWT_SECRET: '' }, 'JWT_PUBLIC_KEY must be a PEM public key (-----BEGIN PUBLIC KEY-----)'],
    [{ JWT_JWKS_URL: 'https://idp.example/jwks' }, 'JWT_SECRET, JWT_PUBLIC_KEY and JWT_JWKS_URL are alternatives: set exactly one (got JWT_SECRET and JWT_JWKS_URL)'],
    [{ DATABASE_URL: 'postgres://x/y' }, 'DATABASE_URL must start with mysql://, mariadb:// or sqlite: (got a value with another scheme)'],
    [{ DATABASE_URL: 'mysql://root@localhost:3306' }, 'DATABASE_URL must name a database, like mysql://user:pass@host:3306/db'],
    [{ DATABASE_URL: 'mysql://root:p@db1,db2/app' }, 'DATABASE_URL names one host; for several nodes (Galera, replicas) put HAProxy or MaxScale in front and name it (docs/scaling.md)'],
    [{ DATABASE_URL: 'mariadb://root@db1:3306,db2:3306/app' }, 'DATABASE_URL names one host; for several nodes (Galera, replicas) put HAProxy or MaxScale in front and name it (docs/scaling.md)'],
    [{ LOG_LEVEL: 'loud' }, "LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got 'loud')"],
    [{ REQUIRE_IF_MATCH: 'maybe' }, "REQUIRE_IF_MATCH must be true or false (got 'maybe')"],
    [{ CORS_ORIGINS: 'not an origin' }, "CORS_ORIGINS must be a comma-separated list of origins like https://app.example.com (got 'not an origin')"],
  ])('refuses %o with one line naming the variable', (env, message) => {
    expect(() => loadConfiguration({ ...base(), ...env })).toThrow(new ConfigError(message));
  });

  it('picks the driver from the URL scheme', () => {
    expect(loadConfiguration({ ...base(), DATABASE_URL: 'mysql://root@127.0.0.1:3306/db' }).database).toMatchObject({ kind: 'mysql', driver: 'mysql' });
    expect(loadConfiguration({ ...base(), DATABASE_URL: 'mariadb://root@127.0.0.1:3306/db' }).database).toMatchObject({ kind: 'mysql', driver: 'mariadb' });
    expect(loadConfiguration({ ...base(), DATABASE_URL: 'sqlite::memory:' }).database).toEqual({ kind: 'sqlite', path: ':memory:', migrationsRun: true });
    const env = base();
    expect(loadConfiguration(env).database).toEqual({ kind: 'sqlite', path: join(env.DATA_DIR, 'integrations.sqlite'), migrationsRun: true });
  });

  it('outside production generates a missing JWT secret and master key once, and reuses them', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'config-spec-'));
    const first = loadConfiguration({ DATA_DIR: dataDir });
    const second = loadConfiguration({ DATA_DIR: dataDir });
    expect(first.generated).toEqual(['JWT_SECRET', 'ENCRYPTION_KEYS']);
    expect(second.auth.secret).toBe(first.auth.secret);
    expect(second.crypto.ring.active.key.equals(first.crypto.ring.active.key)).toBe(true);
  });

  it('in production generates nothing and names every missing setting', () => {
    expect(() => loadConfiguration({ NODE_ENV: 'production', DATA_DIR: mkdtempSync(join(tmpdir(), 'p-')) })).toThrow(
      'NODE_ENV=production needs these settings, which are missing: DATABASE_URL, JWT_SECRET (or JWT_PUBLIC_KEY or JWT_JWKS_URL), ENCRYPTION_KEYS',
    );
    expect(() => loadConfiguration({ ...base(), NODE_ENV: 'production' })).toThrow('which are missing: DATABASE_URL');
  });

  it('accepts an RSA or EC P-256 public key and pins the matching algorithm', () => {
    const { generateKeyPairSync } = jest.requireActual<typeof import('node:crypto')>('node:crypto');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(loadConfiguration({ ...base(), JWT_SECRET: '', JWT_PUBLIC_KEY: rsa }).auth.keySource.algorithms).toEqual(['RS256']);
    expect(loadConfiguration({ ...base(), JWT_SECRET: '', JWT_PUBLIC_KEY: ec.replace(/\n/g, '\\n') }).auth.keySource.algorithms).toEqual(['ES256']);
  });
});
