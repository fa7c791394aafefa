import { Controller, Get, type CanActivate, type INestApplicationContext } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { Test } from '@nestjs/testing';
import { ThrottlerModule } from '@nestjs/throttler';
import { sign } from 'jsonwebtoken';
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RateLimitedError, UnauthenticatedError } from '../common/errors/domain-errors';
import { toErrorResponse } from '../common/filters/error-response';
import { ConfigModule } from '../config/config.module';
import { loadConfiguration, type Configuration } from '../config/configuration';
import { AccessGuard } from './access.guard';
import { ActsOnTenant, Public, RequireScope } from './auth.decorators';
import { AuthModule } from './auth.module';
import { describeTokenFailure, JwtAuthGuard, type GuardedRequest } from './jwt-auth.guard';
import { RateLimitGuard, rateLimitOptions } from './rate-limit.guard';
import { Scope, type Principal } from './scopes';

/**
 * The global guards as AppModule registers them (same classes, same order),
 * with the real passport-jwt strategy, called with an ExecutionContext for the
 * routes of a small controller: what a caller would see, without HTTP.
 */
const SECRET = 'unit-test-secret-that-is-at-least-32-bytes!';
const ISSUER = 'integrations-api';
const AUDIENCE = 'integrations-api';
const TOLERANCE_SEC = 30;

@Controller('probe')
class ProbeController {
  @Get('health')
  @Public()
  health(): void {}

  @Get()
  list(): void {}

  @Get(':iid')
  @ActsOnTenant('iid')
  @RequireScope(Scope.IntegrationsRead)
  read(): void {}

  @Get('other/:tenantId')
  @ActsOnTenant('tenantId')
  @RequireScope(Scope.IntegrationsRead)
  readOther(): void {}
}
type Route = 'health' | 'list' | 'read' | 'readOther';

interface Outcome {
  status: number;
  error?: string;
  headers?: Record<string, string>;
  user?: Principal;
}

const now = (): number => Math.floor(Date.now() / 1000);
const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

function claims(overrides: Record<string, unknown> = {}, without: string[] = []): Record<string, unknown> {
  const all: Record<string, unknown> = { sub: 'caller', scope: 'platform:admin', iss: ISSUER, aud: AUDIENCE, iat: now(), exp: now() + 600, ...overrides };
  for (const claim of without) delete all[claim];
  return all;
}
const hs256 = (payload: Record<string, unknown>, secret: string = SECRET): string => sign(payload, secret, { algorithm: 'HS256' });
function handmade(header: Record<string, unknown>, payload: Record<string, unknown>, signature: (input: string) => string): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${signature(input)}`;
}

function configuration(env: Record<string, string> = {}): Configuration {
  return loadConfiguration({
    NODE_ENV: 'test',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'guards-spec-')),
    DATABASE_URL: 'sqlite::memory:',
    ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
    JWT_SECRET: SECRET,
    JWT_CLOCK_TOLERANCE_SEC: String(TOLERANCE_SEC),
    RATE_LIMIT_MAX: '0',
    ...env,
  });
}

interface Chain {
  module: INestApplicationContext;
  /** Runs the guards in order on a request to `route`, as Nest would, and says what the caller gets. */
  call: (route: Route, request?: { token?: string; authorization?: string; ip?: string; params?: Record<string, string> }) => Promise<Outcome>;
}

async function guardChain(config: Configuration): Promise<Chain> {
  const module = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(config), AuthModule, ThrottlerModule.forRoot(rateLimitOptions(config.app))],
    controllers: [ProbeController],
    providers: [JwtAuthGuard, RateLimitGuard, AccessGuard],
  }).compile();
  await module.init();
  const guards: CanActivate[] = [module.get(JwtAuthGuard), module.get(RateLimitGuard), module.get(AccessGuard)];
  return {
    module,
    call: async (route, { token, authorization, ip = '10.0.0.1', params = {} } = {}) => {
      const headers: Record<string, string> = {};
      if (authorization !== undefined) headers.authorization = authorization;
      else if (token !== undefined) headers.authorization = `Bearer ${token}`;
      const request: GuardedRequest & { headers: Record<string, string> } = { headers, ip, params };
      const context = new ExecutionContextHost([request, {}], ProbeController, ProbeController.prototype[route]);
      try {
        for (const guard of guards) expect(await guard.canActivate(context)).toBe(true);
        return { status: 200, user: request.user };
      } catch (error) {
        const response = toErrorResponse(error);
        return { status: response.status, error: response.body.error, headers: response.headers };
      }
    },
  };
}

const unauthenticated = (error: string): Outcome => ({ status: 401, error, headers: { 'WWW-Authenticate': 'Bearer' } });

describe('auth guards (passport-jwt strategy, rate limit, access)', () => {
  describe('HS256 with a shared secret', () => {
    let chain: Chain;
    beforeAll(async () => {
      chain = await guardChain(configuration());
    });
    afterAll(() => chain.module.close());

    it('lets a good token through and builds the principal', async () => {
      const outcome = await chain.call('list', { token: hs256(claims({ scope: 'integrations:read  integrations:write', tenants: ['a', 'b '] })) });
      expect(outcome.status).toBe(200);
      expect(outcome.user).toEqual({
        subject: 'caller',
        scopes: new Set(['integrations:read', 'integrations:write']),
        // 'b ' cannot be a tenant id: it is dropped rather than left to match 'b' in MySQL.
        tenants: new Set(['a']),
        admin: false,
      });
    });

    it('accepts expired and not-yet-valid tokens only within the clock tolerance', async () => {
      expect((await chain.call('list', { token: hs256(claims({ exp: now() - 10 })) })).status).toBe(200);
      expect((await chain.call('list', { token: hs256(claims({ nbf: now() + 10 })) })).status).toBe(200);
    });

    const [header, payload, signature] = hs256(claims({ scope: 'integrations:read', tenants: ['mine'] })).split('.');
    const tampered = `${header}.${b64url({ ...(JSON.parse(Buffer.from(payload, 'base64url').toString()) as object), scope: 'platform:admin' })}.${signature}`;
    it.each<[string, () => { token?: string; authorization?: string }, string]>([
      ['no Authorization header', () => ({}), 'Missing bearer token (Authorization: Bearer <JWT>)'],
      ['another scheme', () => ({ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }), 'Missing bearer token (Authorization: Bearer <JWT>)'],
      ['alg none', () => ({ token: handmade({ alg: 'none', typ: 'JWT' }, claims(), () => '') }), 'Invalid token: jwt signature is required'],
      ['a wrong secret', () => ({ token: hs256(claims(), 'another-secret-that-is-at-least-32-bytes!!') }), 'Invalid token: invalid signature'],
      ['expiry beyond the tolerance', () => ({ token: hs256(claims({ exp: now() - TOLERANCE_SEC - 30 })) }), 'Token has expired'],
      ['no exp', () => ({ token: hs256(claims({}, ['exp'])) }), 'Token has no exp claim'],
      ['no sub', () => ({ token: hs256(claims({}, ['sub'])) }), 'Token has no sub claim'],
      ['an empty sub', () => ({ token: hs256(claims({ sub: '' })) }), 'Token has no sub claim'],
      ['a wrong iss', () => ({ token: hs256(claims({ iss: 'https://evil.example.com' })) }), `Invalid token: jwt issuer invalid. expected: ${ISSUER}`],
      ['a wrong aud', () => ({ token: hs256(claims({ aud: 'another-service' })) }), `Invalid token: jwt audience invalid. expected: ${AUDIENCE}`],
      ['nbf in the future', () => ({ token: hs256(claims({ nbf: now() + TOLERANCE_SEC + 120 })) }), 'Token is not valid yet (nbf)'],
      ['a tampered payload', () => ({ token: tampered }), 'Invalid token: invalid signature'],
      ['HS512 while HS256 is pinned', () => ({ token: sign(claims(), SECRET, { algorithm: 'HS512' }) }), 'Invalid token: invalid algorithm'],
      ['a scope that is not a string', () => ({ token: hs256(claims({ scope: ['platform:admin'] })) }), 'Token scope claim must be a space-separated string'],
      ['tenants that are not an array', () => ({ token: hs256(claims({ tenants: 'a' })) }), 'Token tenants claim must be an array of tenant ids'],
      ['tenants that are not strings', () => ({ token: hs256(claims({ tenants: [1] })) }), 'Token tenants claim must be an array of tenant ids'],
      ['something that is not a JWT', () => ({ token: 'not-a-jwt' }), 'Invalid token: jwt malformed'],
    ])('answers 401 to %s', async (_case, request, error) => {
      expect(await chain.call('list', request())).toEqual(unauthenticated(error));
    });

    it("answers 403 when the token lacks the route's scope, platform admins having them all", async () => {
      const writer = hs256(claims({ scope: 'integrations:write', tenants: ['a'] }));
      expect(await chain.call('read', { token: writer, params: { iid: 'a' } })).toEqual({
        status: 403,
        error: "This token lacks the scope 'integrations:read'",
        headers: {},
      });
      expect((await chain.call('read', { token: hs256(claims()), params: { iid: 'a' } })).status).toBe(200);
    });

    it('answers 403 for a tenant the token does not list, whether or not it exists, and lets its own tenant through', async () => {
      const reader = hs256(claims({ scope: 'integrations:read', tenants: ['a'] }));
      expect((await chain.call('read', { token: reader, params: { iid: 'a' } })).status).toBe(200);
      for (const iid of ['b', 'A', 'no-such-tenant']) {
        expect(await chain.call('read', { token: reader, params: { iid } })).toEqual({
          status: 403,
          error: `This token may not access tenant '${iid}'`,
          headers: {},
        });
      }
      // The tenant is the declared parameter, whatever its name.
      expect((await chain.call('readOther', { token: reader, params: { tenantId: 'b' } })).status).toBe(403);
      expect((await chain.call('readOther', { token: reader, params: { tenantId: 'a' } })).status).toBe(200);
    });

    it('answers 400 to a tenant id that breaks the id rules, naming the declared parameter', async () => {
      const admin = hs256(claims());
      for (const [route, params] of [
        ['read', { iid: 'a ' }],
        ['read', { iid: 'x'.repeat(65) }],
        ['readOther', { tenantId: 'a/b' }],
      ] as const) {
        const field = Object.keys(params)[0];
        expect(await chain.call(route, { token: admin, params })).toEqual({
          status: 400,
          error: `${field} in the path must be 1-64 characters of letters, digits, ".", "_" or "-"`,
          headers: {},
        });
      }
    });

    it('checks the token before the scope and the tenant', async () => {
      expect(await chain.call('read', { params: { iid: 'a ' } })).toEqual(unauthenticated('Missing bearer token (Authorization: Bearer <JWT>)'));
    });

    it('opens @Public() routes to callers without a token, and does not read a bad one there', async () => {
      expect(await chain.call('health')).toEqual({ status: 200, user: undefined });
      expect(await chain.call('health', { token: 'garbage' })).toEqual({ status: 200, user: undefined });
    });

    it('lets a bug in the check surface as a 500 instead of passing for a bad token', () => {
      const guard = chain.module.get(JwtAuthGuard);
      const context = new ExecutionContextHost([{ headers: {} }, {}], ProbeController, ProbeController.prototype.list);
      expect(() => guard.handleRequest(new TypeError('boom'), false, undefined, context)).toThrow(TypeError);
    });
  });

  describe('RS256 with a configured public key', () => {
    let chain: Chain;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    beforeAll(async () => {
      chain = await guardChain(configuration({ JWT_SECRET: '', JWT_PUBLIC_KEY: pem }));
    });
    afterAll(() => chain.module.close());

    it('accepts a token signed with the private key', async () => {
      expect((await chain.call('list', { token: sign(claims(), rsa.privateKey, { algorithm: 'RS256' }) })).status).toBe(200);
    });

    it('refuses HS256 signed with the public key as the HMAC secret (key confusion), and alg none', async () => {
      const confused = handmade({ alg: 'HS256', typ: 'JWT' }, claims(), (input) => createHmac('sha256', pem).update(input).digest('base64url'));
      expect(await chain.call('list', { token: confused })).toEqual(unauthenticated('Invalid token: invalid algorithm'));
      expect(await chain.call('list', { token: hs256(claims()) })).toEqual(unauthenticated('Invalid token: invalid algorithm'));
      expect(await chain.call('list', { token: handmade({ alg: 'none' }, claims(), () => '') })).toEqual(
        unauthenticated('Invalid token: jwt signature is required'),
      );
    });
  });

  describe('keys from a JWKS URL', () => {
    let chain: Chain;
    let server: Server;
    const keys = new Map<string, KeyObject>();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    beforeAll(async () => {
      keys.set('key-1', rsa.publicKey);
      server = createServer((_request, response) => {
        const set = [...keys].map(([kid, key]) => ({ ...key.export({ format: 'jwk' }), kid, use: 'sig' }));
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: set }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
      chain = await guardChain(configuration({ JWT_SECRET: '', JWT_JWKS_URL: url }));
    });
    afterAll(async () => {
      await chain.module.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('accepts a token whose kid the set holds, and says why it refuses the others', async () => {
      expect((await chain.call('list', { token: sign(claims(), rsa.privateKey, { algorithm: 'RS256', keyid: 'key-1' }) })).status).toBe(200);
      const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      expect(await chain.call('list', { token: sign(claims(), stranger, { algorithm: 'RS256', keyid: 'key-9' }) })).toEqual(
        unauthenticated('Token key could not be found: token signed with an unknown key (kid)'),
      );
      // The set holds a single key, which jwks-rsa alone would use for a token without kid.
      expect(await chain.call('list', { token: sign(claims(), rsa.privateKey, { algorithm: 'RS256' }) })).toEqual(
        unauthenticated('Token key could not be found: token has no kid header'),
      );
      expect(await chain.call('list', { token: sign(claims(), rsa.privateKey, { algorithm: 'RS384', keyid: 'key-1' }) })).toEqual(
        unauthenticated('Invalid token: invalid algorithm'),
      );
      expect(await chain.call('list', { token: 'not-a-jwt' })).toEqual(unauthenticated('Invalid token: jwt malformed'));
    });
  });

  describe('with RATE_LIMIT_MAX', () => {
    let chain: Chain;
    const MAX = 3;
    beforeAll(async () => {
      chain = await guardChain(configuration({ RATE_LIMIT_MAX: String(MAX), RATE_LIMIT_WINDOW_MS: '60000' }));
    });
    afterAll(() => chain.module.close());

    it('counts per token subject, whatever the token and the address', async () => {
      const statuses: number[] = [];
      for (let i = 0; i <= MAX; i++) {
        // A fresh token (another iat, jti) and another address each time: still one caller.
        const token = hs256(claims({ sub: 'busy', jti: String(i) }));
        statuses.push((await chain.call('list', { token, ip: `10.1.0.${i}` })).status);
      }
      expect(statuses).toEqual([...Array<number>(MAX).fill(200), 429]);
      const limited = await chain.call('list', { token: hs256(claims({ sub: 'busy' })) });
      expect(limited.error).toMatch(/^Rate limit reached; retry after \d+ s$/);
      const retryAfter = Number(limited.headers?.['Retry-After']);
      expect(retryAfter >= 1 && retryAfter <= 60).toBe(true);
      expect((await chain.call('list', { token: hs256(claims({ sub: 'calm' })) })).status).toBe(200);
    });

    it('counts a caller without a valid token by address, so made-up tokens get no fresh budget', async () => {
      const statuses: number[] = [];
      for (let i = 0; i <= MAX; i++) statuses.push((await chain.call('list', { token: `made-up-${i}`, ip: '192.0.2.7' })).status);
      expect(statuses).toEqual([...Array<number>(MAX).fill(401), 429]);
      expect((await chain.call('list', { ip: '192.0.2.7' })).status).toBe(429);
      expect((await chain.call('list', { ip: '192.0.2.8' })).status).toBe(401);
    });

    it('never limits @Public() routes', async () => {
      for (let i = 0; i <= MAX * 2; i++) expect((await chain.call('health', { ip: '192.0.2.9' })).status).toBe(200);
    });

    it('answers 429 with the error format', () => {
      expect(toErrorResponse(new RateLimitedError(7))).toEqual({
        status: 429,
        body: { error: 'Rate limit reached; retry after 7 s', code: 'RATE_LIMITED' },
        headers: { 'Retry-After': '7' },
        unexpected: false,
      });
    });
  });

  describe('describeTokenFailure', () => {
    const named = (name: string, message: string, extra: object = {}): Error => Object.assign(new Error(message), { name }, extra);
    it.each<[string, unknown, string]>([
      ["passport-jwt's missing token", new Error('No auth token'), 'Missing bearer token (Authorization: Bearer <JWT>)'],
      ["jwks-rsa's unknown kid (it quotes the kid; we do not)", named('SigningKeyNotFoundError', "Unable to find a signing key that matches '<script>'"), 'Token key could not be found: token signed with an unknown key (kid)'],
      ["jwks-rsa's fetch limit", named('JwksRateLimitError', 'Too many requests to the JWKS endpoint'), 'Token key could not be found: Too many requests to the JWKS endpoint'],
      ['an unreachable JWKS endpoint', named('Error', 'connect ECONNREFUSED 10.0.0.1:443', { isEndpointUnavailable: true }), 'Token key could not be found: JWKS endpoint unavailable'],
      ['anything else', 'a string', 'Missing or invalid bearer token'],
    ])('words %s', (_case, failure, message) => {
      expect(describeTokenFailure(failure)).toBe(message);
      expect(new UnauthenticatedError(message).status).toBe(401);
    });
  });
});
