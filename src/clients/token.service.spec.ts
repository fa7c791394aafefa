import { Test, type TestingModule } from '@nestjs/testing';
import { ThrottlerModule } from '@nestjs/throttler';
import { verify } from 'jsonwebtoken';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rateLimitOptions } from '../auth/rate-limit.guard';
import { OAuthError, RateLimitedError } from '../common/errors/domain-errors';
import { ConfigModule } from '../config/config.module';
import { loadConfiguration } from '../config/configuration';
import { hashSecret } from './client-secret';
import { ClientsRepository, type ClientCredentials } from './clients.repository';
import { FormParameters } from './form-body';
import { SigningKeysService } from './signing-keys.service';
import { TokenAttemptLimiter } from './token-attempts';
import { TokenService } from './token.service';

const CHEAP = { ln: 10, r: 8, p: 1 };
const form = (params: Record<string, string> | string): FormParameters => new FormParameters(new URLSearchParams(params));
const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/**
 * The client-credentials grant with @nestjs/testing: the real TokenService and
 * failure limiter (on the throttler's storage), the clients table and the
 * signing keys replaced by memory. The e2e specs cover the same over HTTP.
 */
describe('TokenService', () => {
  let module: TestingModule;
  let tokens: TokenService;
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const clients = new Map<string, ClientCredentials>();
  const secret = 'ics-a+b c%d/e';

  beforeAll(async () => {
    const config = loadConfiguration({
      NODE_ENV: 'test',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'token-service-spec-')),
      DATABASE_URL: 'sqlite::memory:',
      ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
      JWT_SECRET: 'unit-test-secret-that-is-at-least-32-bytes!',
      TOKEN_ISSUER: 'https://integrations.example.com',
      TOKEN_TTL: '10m',
      TOKEN_MAX_FAILURES_PER_CLIENT: '2',
    });
    module = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), ThrottlerModule.forRoot(rateLimitOptions(config.app))],
      providers: [
        TokenService,
        TokenAttemptLimiter,
        { provide: ClientsRepository, useValue: { credentials: (id: string) => Promise.resolve(clients.get(id) ?? null) } },
        { provide: SigningKeysService, useValue: { signingKey: () => Promise.resolve({ kid: 'k1', privateKey: pair.privateKey }) } },
      ],
    }).compile();
    tokens = module.get(TokenService);
    clients.set('ic-1', {
      id: 'ic-1',
      tenantId: 'acme',
      scope: 'integrations:read integrations:secrets',
      secretHash: await hashSecret(secret, CHEAP),
      previousSecretHash: null,
      previousSecretExpiresAt: null,
    });
  });
  afterAll(() => module.close());

  const issue = (body: FormParameters | undefined, authorization?: string, address = '10.0.0.1') => tokens.issue({ form: body, authorization, address });
  const refusal = async (promise: Promise<unknown>): Promise<[string, number, string]> => {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    if (!(error instanceof OAuthError)) throw new Error(`expected an OAuthError, got ${String(error)}`);
    return [error.code, error.status, error.message];
  };

  it('decodes Basic credentials as RFC 6749 §2.3.1 encodes them (form-encoded, then base64)', async () => {
    const encoded = encodeURIComponent(secret).replace(/%20/g, '+');
    const answer = await issue(form({ grant_type: 'client_credentials' }), basic('ic-1', encoded));
    expect(answer).toMatchObject({ token_type: 'Bearer', expires_in: 600, scope: 'integrations:read integrations:secrets' });
    const claims = verify(answer.access_token, pair.publicKey, { algorithms: ['ES256'], issuer: 'https://integrations.example.com', audience: 'integrations-api' });
    expect(claims).toMatchObject({ sub: 'ic-1', tenants: ['acme'], scope: 'integrations:read integrations:secrets' });
  });

  it('checks the request before the client, and the client before the scope', async () => {
    expect(await refusal(issue(undefined))).toEqual(['invalid_request', 400, expect.any(String)]);
    expect(await refusal(issue(form('grant_type=password&grant_type=client_credentials')))).toEqual(['invalid_request', 400, "Parameter 'grant_type' is sent more than once"]);
    // An unsupported grant is said before any client authentication is looked at.
    expect(await refusal(issue(form({ grant_type: 'password' })))).toEqual(['unsupported_grant_type', 400, "Only grant_type=client_credentials is supported (got 'password')"]);
    expect(await refusal(issue(form({ grant_type: 'client_credentials', scope: 'integrations:write' }), basic('ic-9', 'wrong')))).toEqual([
      'invalid_client',
      401,
      'Client authentication failed',
    ]);
    expect(await refusal(issue(form({ grant_type: 'client_credentials', scope: 'integrations:write', client_id: 'ic-1', client_secret: secret })))).toEqual([
      'invalid_scope',
      400,
      "The client may not request the scope 'integrations:write'",
    ]);
  });

  it('accepts the previous secret during its overlap, and calls it an expired grant after', async () => {
    const old = 'ics-old';
    clients.set('ic-2', {
      id: 'ic-2',
      tenantId: 'acme',
      scope: 'integrations:read',
      secretHash: await hashSecret('ics-new', CHEAP),
      previousSecretHash: await hashSecret(old, CHEAP),
      previousSecretExpiresAt: new Date(Date.now() + 60_000),
    });
    expect((await issue(form({ grant_type: 'client_credentials' }), basic('ic-2', old))).scope).toBe('integrations:read');
    clients.get('ic-2')!.previousSecretExpiresAt = new Date(Date.now() - 1);
    expect((await refusal(issue(form({ grant_type: 'client_credentials' }), basic('ic-2', old))))[0]).toBe('invalid_grant');
    expect((await issue(form({ grant_type: 'client_credentials' }), basic('ic-2', 'ics-new'))).scope).toBe('integrations:read');
  });

  it('blocks a client id past its failures, before any hashing, even with the right secret', async () => {
    const attempt = (password: string, address: string) => issue(form({ grant_type: 'client_credentials' }), basic('ic-1', password), address);
    expect((await refusal(attempt('x', '10.1.0.1')))[0]).toBe('invalid_client');
    expect((await refusal(attempt('y', '10.1.0.2')))[0]).toBe('invalid_client');
    await expect(attempt('z', '10.1.0.3')).rejects.toBeInstanceOf(RateLimitedError);
    await expect(attempt(encodeURIComponent(secret), '10.1.0.4')).rejects.toBeInstanceOf(RateLimitedError);
  });
});
