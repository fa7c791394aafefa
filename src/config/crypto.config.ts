import { MasterKeyRing } from '../crypto/master-key-ring';
import { type Env, ConfigError, readInt, readVar } from './config-error';

export interface CryptoConfig {
  ring: MasterKeyRing;
  /** How long an unwrapped tenant data key stays in memory (never written anywhere). */
  dataKeyCacheTtlMs: number;
  /** How many unwrapped data keys the cache holds at most (oldest dropped first). */
  dataKeyCacheSize: number;
}

export function loadCryptoConfig(env: Env, generatedKeys?: string): CryptoConfig {
  const value = readVar(env, 'ENCRYPTION_KEYS') ?? generatedKeys;
  if (value === undefined) throw new ConfigError('ENCRYPTION_KEYS must be set: id:base64key[,id:base64key…] (run npm run keys:generate)');
  return {
    ring: MasterKeyRing.parse(value),
    dataKeyCacheTtlMs: readInt(env, 'DATA_KEY_CACHE_TTL_MS', 60_000, 0, 3_600_000),
    dataKeyCacheSize: readInt(env, 'DATA_KEY_CACHE_SIZE', 10_000, 0, 10_000_000),
  };
}
