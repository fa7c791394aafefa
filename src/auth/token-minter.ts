import { sign } from 'jsonwebtoken';
import type { AuthConfig } from '../config/auth.config';

export interface MintOptions {
  subject: string;
  scopes: string[];
  tenants?: string[];
  /** Lifetime in seconds. */
  ttlSeconds: number;
}

/** Signs a development token with the configured (or generated) HS256 secret. */
export function mintToken(auth: AuthConfig, options: MintOptions): string {
  if (auth.secret === undefined) {
    throw new Error('minting tokens needs JWT_SECRET (HS256); with JWT_PUBLIC_KEY or JWT_JWKS_URL, tokens come from your identity provider');
  }
  const claims: Record<string, unknown> = { scope: options.scopes.join(' ') };
  if (options.tenants !== undefined) claims.tenants = options.tenants;
  return sign(claims, auth.secret, {
    algorithm: 'HS256',
    subject: options.subject,
    issuer: auth.issuer,
    audience: auth.audience,
    expiresIn: options.ttlSeconds,
  });
}

/** `30s`, `15m`, `1h`, `7d` or plain seconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+)\s*([smhd]?)$/.exec(value.trim());
  if (match === null) throw new Error(`--ttl must look like 30s, 15m, 1h or 7d (got '${value}')`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
