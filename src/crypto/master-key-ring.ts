import { randomBytes } from 'node:crypto';
import { ConfigError } from '../config/config-error';

/** A master key of `ENCRYPTION_KEYS`: it only ever wraps tenant data keys. */
export interface MasterKey {
  readonly id: string;
  readonly key: Buffer;
}

const KEY_ID = /^[A-Za-z0-9._-]{1,32}$/;

/**
 * The ring of master keys from `ENCRYPTION_KEYS` (`id:base64key[,id:base64key…]`).
 * The first one wraps new data keys; the others still unwrap what they wrapped
 * until `keys:rotate` has moved everything to the first.
 */
export class MasterKeyRing {
  private readonly byId: ReadonlyMap<string, MasterKey>;

  constructor(readonly keys: readonly MasterKey[]) {
    if (keys.length === 0) throw new ConfigError('ENCRYPTION_KEYS must hold at least one id:base64key entry');
    this.byId = new Map(keys.map((k) => [k.id, k]));
  }

  get active(): MasterKey {
    return this.keys[0];
  }

  get ids(): string[] {
    return this.keys.map((k) => k.id);
  }

  find(id: string): MasterKey | undefined {
    return this.byId.get(id);
  }

  /** Parses the variable; every message names ENCRYPTION_KEYS and never echoes key material. */
  static parse(value: string): MasterKeyRing {
    const keys: MasterKey[] = [];
    const entries = value.split(',').map((e) => e.trim()).filter(Boolean);
    entries.forEach((entry, index) => {
      const colon = entry.indexOf(':');
      const id = colon > 0 ? entry.slice(0, colon) : '';
      const material = colon > 0 ? entry.slice(colon + 1) : '';
      const position = `entry ${index + 1}`;
      if (!KEY_ID.test(id)) {
        throw new ConfigError(
          `ENCRYPTION_KEYS ${position} must be id:base64key with an id of 1-32 letters, digits, ".", "_" or "-" (run npm run keys:generate)`,
        );
      }
      if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(material)) {
        throw new ConfigError(`ENCRYPTION_KEYS key '${id}' must be base64 (run npm run keys:generate)`);
      }
      const key = Buffer.from(material, 'base64');
      if (key.length !== 32) {
        throw new ConfigError(`ENCRYPTION_KEYS key '${id}' must decode to 32 bytes for AES-256 (it has ${key.length}; run npm run keys:generate)`);
      }
      if (keys.some((k) => k.id === id)) throw new ConfigError(`ENCRYPTION_KEYS lists key id '${id}' twice`);
      keys.push({ id, key });
    });
    return new MasterKeyRing(keys);
  }
}

/** A fresh `id:base64key` entry for `ENCRYPTION_KEYS`; the id carries the date for operators. */
export function generateKeyEntry(now = new Date()): string {
  const stamp = now.toISOString().slice(0, 10).replaceAll('-', '');
  const id = `k${stamp}-${randomBytes(3).toString('hex')}`;
  return `${id}:${randomBytes(32).toString('base64')}`;
}
