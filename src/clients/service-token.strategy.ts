import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { JwtPayload } from 'jsonwebtoken';
import type { KeyObject } from 'node:crypto';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { REVOKED_TOKEN, type ServicePrincipal } from '../auth/jwt-auth.guard';
import { principalOf } from '../auth/jwt.strategy';
import { RevokedClients, SERVICE_JWT } from '../auth/service-tokens';
import { UnauthenticatedError } from '../common/errors/domain-errors';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { SigningKeysService } from './signing-keys.service';

/** The header of a compact JWS (already known to be one: its payload named our issuer). */
function kidOf(token: string): unknown {
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null ? (header as { kid?: unknown }).kid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The tokens this service signs itself (POST /token), checked by passport-jwt
 * like the configured issuer's, but against the service's own published
 * signing keys (by kid, ES256 only), its own issuer (TOKEN_ISSUER) and
 * audience (TOKEN_AUDIENCE). Then the same claim checks as any token, and:
 * exactly one tenant, never platform:admin, and the client not revoked.
 * JwtAuthGuard sends a token here when its `iss` is TOKEN_ISSUER.
 */
@Injectable()
export class ServiceTokenStrategy extends PassportStrategy(Strategy, SERVICE_JWT) {
  private readonly toleranceMs: number;

  constructor(
    keys: SigningKeysService,
    private readonly revoked: RevokedClients,
    @Inject(CONFIGURATION) config: Configuration,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // A KeyObject, handed to jsonwebtoken untouched (see asPassportKey in jwt.strategy.ts).
      secretOrKeyProvider: (_request: unknown, token: string, done: (error: unknown, key?: Buffer) => void) => {
        keys.verificationKey(kidOf(token)).then(
          (key: KeyObject) => done(null, key as unknown as Buffer),
          (error: unknown) => done(error),
        );
      },
      algorithms: ['ES256'],
      issuer: config.clients.issuer,
      audience: config.clients.audience,
      ignoreExpiration: false,
      jsonWebTokenOptions: { clockTolerance: config.auth.clockToleranceSec },
    });
    this.toleranceMs = config.auth.clockToleranceSec * 1000;
  }

  validate(payload: JwtPayload & { scope?: unknown; tenants?: unknown }): ServicePrincipal {
    const principal = principalOf(payload);
    // What POST /token writes: one tenant. Anything else was not signed by this service's code.
    if (principal.tenants.size !== 1 || (payload.tenants as unknown[]).length !== 1) {
      throw new UnauthenticatedError('Token tenants claim must name exactly one tenant');
    }
    if (this.revoked.has(principal.subject)) throw new UnauthenticatedError(REVOKED_TOKEN);
    const scopes = new Set(principal.scopes);
    // platform:admin would reach every tenant; no client holds it, and no token of ours grants it.
    scopes.delete('platform:admin');
    return { ...principal, scopes, admin: false, tokenExpiresAt: (payload.exp as number) * 1000 + this.toleranceMs };
  }
}
