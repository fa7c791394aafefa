import type { CanActivate, INestApplicationContext } from '@nestjs/common';
import { Controller, Get } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { Test } from '@nestjs/testing';
import { ThrottlerModule } from '@nestjs/throttler';
import { sign } from 'jsonwebtoken';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessGuard } from '../auth/access.guard';
import { ActsOnTenant, RequireScope } from '../auth/auth.decorators';
import { AuthModule } from '../auth/auth.module';
import { TokenKeyError } from '../auth/jwt.strategy';
import { JwtAuthGuard, type GuardedRequest } from '../auth/jwt-auth.guard';
import { RateLimitGuard, rateLimitOptions } from '../auth/rate-limit.guard';
import { Scope } from '../auth/scopes';
import { RevokedClients, VerifiedTokenCache } from '../auth/service-tokens';
import { toErrorResponse } from '../common/filters/error-response';
import { ConfigModule } from '../config/config.module';
import { loadConfiguration } from '../config/configuration';
import { ServiceTokenStrategy } from './service-token.strategy';
import { SigningKeysService } from './signing-keys.service';

const SECRET = 'unit-test-secret-that-is-at-least-32-bytes!';
const ISSUER = 'https://integrations.example.com';

@Controller('probe')
class ProbeController {
  @Get(':iid')
  @ActsOnTenant('iid')
  @RequireScope(Scope.IntegrationsRead)
  read(): void {}
}

/**
 * The global guard chain with both strategies, as AppModule wires them, and
 * the signing keys replaced by one key pair: which strategy a token goes to,
 * what a self-issued token may do, revocation, and the verified-token cache.
 */
describe('JwtAuthGuard with self-issued tokens (service-jwt strategy)', () => {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const lookups: unknown[] = [];
  const keys = {
    verificationKey: (kid: unknown) => {
      lookups.push(kid);
      if (kid !== 'k1') return Promise.reject(new TokenKeyError('token signed with an unknown key (kid)'));
      return Promise.resolve(pair.publicKey);
    },
  };
  let module: INestApplicationContext;
  let guards: CanActivate[];

  const now = (): number => Math.floor(Date.now() / 1000);
  const selfToken = (claims: Record<string, unknown> = {}, kid = 'k1'): string =>
    sign({ sub: 'ic-1', scope: 'integrations:read', tenants: ['a'], iss: ISSUER, aud: 'integrations-api', exp: now() + 600, ...claims }, pair.privateKey, {
      algorithm: 'ES256',
      keyid: kid,
    });

  async function call(token: string, iid = 'a'): Promise<{ status: number; error?: string; request: GuardedRequest }> {
    const request: GuardedRequest & { headers: Record<string, string> } = { headers: { authorization: `Bearer ${token}` }, ip: '10.0.0.1', params: { iid } };
    const context = new ExecutionContextHost([request, {}], ProbeController, ProbeController.prototype.read);
    try {
      for (const guard of guards) expect(await guard.canActivate(context)).toBe(true);
      return { status: 200, request };
    } catch (error) {
      const response = toErrorResponse(error);
      return { status: response.status, error: response.body.error, request };
    }
  }

  beforeAll(async () => {
    const config = loadConfiguration({
      NODE_ENV: 'test',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'service-token-spec-')),
      DATABASE_URL: 'sqlite::memory:',
      ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
      JWT_SECRET: SECRET,
      TOKEN_ISSUER: ISSUER,
      RATE_LIMIT_MAX: '0',
    });
    module = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), AuthModule, ThrottlerModule.forRoot(rateLimitOptions(config.app))],
      controllers: [ProbeController],
      providers: [ServiceTokenStrategy, { provide: SigningKeysService, useValue: keys }, JwtAuthGuard, RateLimitGuard, AccessGuard],
    }).compile();
    await module.init();
    guards = [module.get(JwtAuthGuard), module.get(RateLimitGuard), module.get(AccessGuard)];
  });
  afterAll(() => module.close());

  it("accepts the service's token for its one tenant, as a principal that is never an admin", async () => {
    const outcome = await call(selfToken({ scope: 'integrations:read platform:admin' }));
    expect(outcome.status).toBe(200);
    expect(outcome.request.user).toMatchObject({ subject: 'ic-1', tenants: new Set(['a']), scopes: new Set(['integrations:read']), admin: false });
    expect(await call(selfToken(), 'b')).toEqual(expect.objectContaining({ status: 403, error: "This token may not access tenant 'b'" }));
  });

  it('checks it against its own keys, issuer and audience, and wants exactly one tenant', async () => {
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const forged = sign({ sub: 'ic-1', scope: 'integrations:read', tenants: ['a'], iss: ISSUER, aud: 'integrations-api', exp: now() + 600 }, stranger, {
      algorithm: 'ES256',
      keyid: 'k1',
    });
    expect(await call(forged)).toMatchObject({ status: 401, error: 'Invalid token: invalid signature' });
    expect(await call(selfToken({}, 'k9'))).toMatchObject({ status: 401, error: 'Token key could not be found: token signed with an unknown key (kid)' });
    expect(await call(selfToken({ aud: 'another-api' }))).toMatchObject({ status: 401, error: 'Invalid token: jwt audience invalid. expected: integrations-api' });
    expect(await call(selfToken({ tenants: ['a', 'b'] }))).toMatchObject({ status: 401, error: 'Token tenants claim must name exactly one tenant' });
    expect(await call(selfToken({ tenants: undefined }))).toMatchObject({ status: 401, error: 'Token tenants claim must name exactly one tenant' });
    expect(await call(selfToken({ exp: now() - 60 }))).toMatchObject({ status: 401, error: 'Token has expired' });
    // An HS256 token that claims the service's issuer is checked by the service's keys, and fails there.
    const hs = sign({ sub: 'x', scope: 'platform:admin', iss: ISSUER, aud: 'integrations-api', exp: now() + 600 }, SECRET, { algorithm: 'HS256', keyid: 'k1' });
    expect(await call(hs)).toMatchObject({ status: 401, error: 'Invalid token: invalid algorithm' });
    // The configured issuer's tokens still go to the 'jwt' strategy.
    const external = sign({ sub: 'svc', scope: 'integrations:read', tenants: ['a'], iss: 'integrations-api', aud: 'integrations-api', exp: now() + 600 }, SECRET, {
      algorithm: 'HS256',
    });
    expect((await call(external)).status).toBe(200);
  });

  it('verifies a token once and then answers from the cache, still checking revocation on every request', async () => {
    const token = selfToken({ sub: 'ic-cached', jti: 'once' });
    const before = lookups.length;
    expect((await call(token)).status).toBe(200);
    expect((await call(token)).status).toBe(200);
    expect((await call(token)).status).toBe(200);
    expect(lookups.length - before).toBe(1);
    expect(module.get(VerifiedTokenCache).get(token)).toBeDefined();

    // The configured issuer's tokens are remembered too (a fixed key here), never marked revocable.
    const external = sign({ sub: 'svc-cached', scope: 'integrations:read', tenants: ['a'], iss: 'integrations-api', aud: 'integrations-api', exp: now() + 600 }, SECRET, {
      algorithm: 'HS256',
    });
    expect((await call(external)).status).toBe(200);
    expect(module.get(VerifiedTokenCache).get(external)).toMatchObject({ revocable: false, expiresAt: (now() + 600) * 1000 + 5000 });
    // A refused token is never remembered.
    const refused = selfToken({ tenants: ['a', 'b'] });
    expect((await call(refused)).status).toBe(401);
    expect(module.get(VerifiedTokenCache).get(refused)).toBeUndefined();

    module.get(RevokedClients).add('ic-cached', Date.now() + 60_000);
    expect(await call(token)).toMatchObject({ status: 401, error: 'Token has been revoked: its API client was deleted' });
    // And a fresh token of the revoked client fails in the strategy itself.
    expect(await call(selfToken({ sub: 'ic-cached', jti: 'fresh' }))).toMatchObject({ status: 401, error: 'Token has been revoked: its API client was deleted' });
  });
});
