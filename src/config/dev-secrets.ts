import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyEntry } from '../crypto/master-key-ring';

export interface DevSecrets {
  jwtSecret: string;
  encryptionKeys: string;
}

/**
 * Outside production, a missing JWT secret or master key is generated once and
 * kept in DATA_DIR/dev-secrets.json (mode 0600), so a fresh clone runs with
 * `npm start` and restarts keep reading what they wrote.
 */
export function ensureDevSecrets(dataDir: string): DevSecrets {
  const file = join(dataDir, 'dev-secrets.json');
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevSecrets>;
    if (typeof stored.jwtSecret === 'string' && typeof stored.encryptionKeys === 'string') {
      return { jwtSecret: stored.jwtSecret, encryptionKeys: stored.encryptionKeys };
    }
  }
  const secrets: DevSecrets = {
    jwtSecret: randomBytes(48).toString('base64url'),
    encryptionKeys: generateKeyEntry(),
  };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return secrets;
}
