import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './config-error';
import { loadConfiguration } from './configuration';
import { loadRedisConfig } from './redis.config';

const URL_MESSAGE = 'REDIS_URL must be a URL like redis://127.0.0.1:6379 or rediss://:password@host:6380/0 (the value given is not)';
const PATH_MESSAGE = 'REDIS_URL may end only with a database number, like redis://127.0.0.1:6379/0 (the value given has another path)';

describe('loadRedisConfig (issue 16)', () => {
  it('unset or blank: no URL, so each instance keeps its own counts and caches (single-instance mode)', () => {
    expect(loadRedisConfig({})).toEqual({ keyPrefix: 'integrations-api:' });
    expect(loadRedisConfig({ REDIS_URL: '   ' })).toEqual({ keyPrefix: 'integrations-api:' });
  });

  it.each([
    'redis://127.0.0.1:6379',
    'redis://127.0.0.1:6379/',
    'redis://:secret@cache.internal:6379/2',
    'redis://[::1]:6379/0',
    'rediss://default:secret@redis.example.com:6380/0',
    'rediss://redis.example.com',
  ])('accepts %s as given', (url) => {
    expect(loadRedisConfig({ REDIS_URL: url })).toEqual({ url, keyPrefix: 'integrations-api:' });
  });

  it('trims the value', () => {
    expect(loadRedisConfig({ REDIS_URL: ' redis://127.0.0.1:6379 ' }).url).toBe('redis://127.0.0.1:6379');
  });

  it.each([
    ['another scheme', 'http://127.0.0.1:6379'],
    ['a Sentinel URL (not read by the client)', 'redis+sentinel://127.0.0.1:26379'],
    ['a socket path', 'unix:///run/redis.sock'],
    ['no scheme', '127.0.0.1:6379'],
    ['a host and port only', 'localhost:6379'],
    // ioredis turns TLS on only for a URL that starts with a lower-case rediss://: this one would go in clear.
    ['the scheme in capitals', 'REDISS://redis.example.com:6380'],
    ['no host', 'redis://'],
    ['a password but no host', 'redis://:secret@/0'],
    ['no slashes', 'redis:127.0.0.1:6379'],
    ['a port out of range', 'redis://127.0.0.1:99999'],
    ['text that is no URL', 'not a url'],
  ])('refuses %s (%s) with one line that shows the expected form', (_case, url) => {
    expect(() => loadRedisConfig({ REDIS_URL: url })).toThrow(new ConfigError(URL_MESSAGE));
  });

  it.each([
    // The client reads the path with parseInt: these would be database 0 and database 1 without a word.
    'redis://127.0.0.1:6379/db1',
    'redis://127.0.0.1:6379/1x',
    'redis://127.0.0.1:6379/0/extra',
  ])('refuses %s: the path can only be a database number', (url) => {
    expect(() => loadRedisConfig({ REDIS_URL: url })).toThrow(new ConfigError(PATH_MESSAGE));
  });

  it('never puts the value, which may hold the Redis password, in its message', () => {
    for (const url of ['http://:hunter2@127.0.0.1:6379', 'redis://:hunter2@127.0.0.1:6379/hunter2']) {
      expect(() => loadRedisConfig({ REDIS_URL: url })).toThrow(ConfigError);
      try {
        loadRedisConfig({ REDIS_URL: url });
      } catch (error) {
        expect((error as Error).message).not.toContain('hunter2');
      }
    }
  });

  describe('REDIS_KEY_PREFIX', () => {
    it('defaults to integrations-api: when unset or blank', () => {
      expect(loadRedisConfig({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: ' ' }).keyPrefix).toBe('integrations-api:');
    });

    it.each(['staging:', 'integrations-api.eu-1_blue:', 'x', 'p'.repeat(100)])('accepts %s', (prefix) => {
      expect(loadRedisConfig({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: prefix }).keyPrefix).toBe(prefix);
    });

    it.each([
      ['a space', 'my prefix:', "REDIS_KEY_PREFIX must be 1 to 100 letters, digits or ':_.-' (got 'my prefix:')"],
      ['a glob character', 'tenant*', "REDIS_KEY_PREFIX must be 1 to 100 letters, digits or ':_.-' (got 'tenant*')"],
      ['a slash', 'a/b:', "REDIS_KEY_PREFIX must be 1 to 100 letters, digits or ':_.-' (got 'a/b:')"],
      ['101 characters', 'p'.repeat(101), `REDIS_KEY_PREFIX must be 1 to 100 letters, digits or ':_.-' (got '${'p'.repeat(100)}')`],
    ])('refuses %s', (_case, prefix, message) => {
      expect(() => loadRedisConfig({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: prefix })).toThrow(new ConfigError(message));
    });

    it('is checked without REDIS_URL too (it names the keys of every later start with Redis)', () => {
      expect(() => loadRedisConfig({ REDIS_KEY_PREFIX: 'two words' })).toThrow(ConfigError);
    });
  });

  it('stops the start: loadConfiguration refuses a bad REDIS_URL with the same line', () => {
    const env = {
      DATA_DIR: mkdtempSync(join(tmpdir(), 'redis-config-spec-')),
      JWT_SECRET: 'a-secret-that-is-at-least-32-bytes-long',
      ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
    };
    expect(loadConfiguration({ ...env, REDIS_URL: 'redis://127.0.0.1:6379' }).redis).toEqual({
      url: 'redis://127.0.0.1:6379',
      keyPrefix: 'integrations-api:',
    });
    expect(() => loadConfiguration({ ...env, REDIS_URL: 'http://127.0.0.1:6379' })).toThrow(new ConfigError(URL_MESSAGE));
  });
});
