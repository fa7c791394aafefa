import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { decode, type JwtPayload } from 'jsonwebtoken';
import { ExtractJwt, Strategy, type StrategyOptionsWithoutRequest } from 'passport-jwt';
import { UnauthenticatedError } from '../common/errors/domain-errors';
import { isResourceId } from '../common/validation/resource-id';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { JwksKeyProvider } from './jwks-key-provider';
import { Scope, type Principal } from './scopes';

/**
 * Verifies bearer tokens: signature with the configured key and its pinned
 * algorithm, `exp` (required), `nbf`, `iss`, `aud`, then the claims this
 * service needs (`sub`, `scope`, `tenants`).
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(@Inject(CONFIGURATION) config: Configuration) {
    const { keySource, issuer, audience, clockToleranceSec } = config.auth;
    const common = {
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      algorithms: [...keySource.algorithms],
      issuer,
      audience,
      ignoreExpiration: false,
      jsonWebTokenOptions: { clockTolerance: clockToleranceSec },
    };
    let options: StrategyOptionsWithoutRequest;
    if (keySource.mode === 'jwks') {
      const jwks = new JwksKeyProvider(keySource.jwksUrl, keySource.cacheTtlMs);
      options = {
        ...common,
        secretOrKeyProvider: (_request: unknown, rawJwt: string, done: (error: unknown, key?: unknown) => void) => {
          const header = decode(rawJwt, { complete: true })?.header;
          jwks.keyFor(header?.kid).then(
            (key) => done(null, key),
            (error: unknown) => done(error),
          );
        },
      } as unknown as StrategyOptionsWithoutRequest;
    } else {
      // A KeyObject, not a string: passport-jwt would re-parse a string on every request.
      options = { ...common, secretOrKey: keySource.key } as unknown as StrategyOptionsWithoutRequest;
    }
    super(options);
  }

  validate(payload: JwtPayload & { scope?: unknown; tenants?: unknown }): Principal {
    if (typeof payload.exp !== 'number') throw new UnauthenticatedError('Token has no exp claim');
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new UnauthenticatedError('Token has no sub claim');
    if (payload.scope !== undefined && typeof payload.scope !== 'string') {
      throw new UnauthenticatedError('Token scope claim must be a space-separated string');
    }
    if (payload.tenants !== undefined && !(Array.isArray(payload.tenants) && payload.tenants.every((t) => typeof t === 'string'))) {
      throw new UnauthenticatedError('Token tenants claim must be an array of tenant ids');
    }
    const scopes = new Set((payload.scope ?? '').split(' ').filter(Boolean));
    return {
      subject: payload.sub,
      scopes,
      // An entry that cannot be a tenant id can only match one by accident (MySQL ignores trailing spaces).
      tenants: new Set((payload.tenants ?? []).filter((tenant) => isResourceId(tenant))),
      admin: scopes.has(Scope.PlatformAdmin),
    };
  }
}
