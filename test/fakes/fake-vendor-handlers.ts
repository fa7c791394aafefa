import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * What each fake vendor answers, kept apart from the HTTP plumbing in fake-vendors.ts.
 * Status codes and body shapes follow the real APIs closely enough for the verifiers
 * to be tested against them: the same calls, the same auth checks, the same errors.
 */

export type FakeVendorType = 'salesforce' | 'twilio' | 'sendgrid' | 'datasift' | 'pusher' | 'urban-airship';

export interface FakeRequest {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface FakeReply {
  status: number;
  /** An object is sent as JSON; a string as is, with `contentType` (text/plain by default). */
  body: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface FakeVendorHandler {
  /** Whether the request is the vendor call the verifier makes (special identities apply only there). */
  matches(req: FakeRequest): boolean;
  /** The non-secret identity the request carries: `hang`, `slow`, `error500` and `echo` trigger test behaviours. */
  identity(req: FakeRequest): string | undefined;
  /** The normal answer, with every auth check. */
  handle(req: FakeRequest): FakeReply;
  /** The success answer, given to `slow` after its delay whatever the credentials. */
  success(req: FakeRequest): FakeReply;
  /** A 401 that echoes the credentials received, secret included (a careless vendor). */
  echo(req: FakeRequest): FakeReply;
  /** The vendor's 500. */
  serverError(): FakeReply;
}

/** The instance URL the fake Salesforce hands out on login. */
export const FAKE_SALESFORCE_INSTANCE_URL = 'https://na1.fake-salesforce.test';

const json = (status: number, body: unknown, headers?: Record<string, string>): FakeReply => ({
  status,
  body,
  headers,
});
const text = (status: number, body: string, contentType = 'text/plain; charset=utf-8'): FakeReply => ({
  status,
  body,
  contentType,
});
const htmlError = (): FakeReply =>
  text(
    500,
    '<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head>' +
      '<body><h1>Internal Server Error</h1><p>The server encountered an unexpected condition.</p></body></html>',
    'text/html; charset=utf-8',
  );

/** Constant-time string comparison: the fakes should not teach bad habits. */
function same(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function basic(headers: IncomingHttpHeaders): { user: string; password: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(headers.authorization ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function basicEcho(req: FakeRequest): string {
  const creds = basic(req.headers);
  return `received user=${creds?.user ?? ''} password=${creds?.password ?? ''} authorization=${req.headers.authorization ?? ''}`;
}

const rfc2822 = (date: Date): string => date.toUTCString().replace('GMT', '+0000');

export function salesforceHandler(good: Record<string, string>, baseUrl: () => string): FakeVendorHandler {
  const form = (req: FakeRequest) => new URLSearchParams(req.body);
  const success = (): FakeReply => {
    const issuedAt = String(Date.now());
    const id = `${baseUrl()}/id/00Dfa4e000000FAKEEAQ/005fa4e000000FAKEAAA`;
    const signature = createHmac('sha256', good['consumer-secret'])
      .update(id + issuedAt)
      .digest('base64');
    return json(
      200,
      {
        access_token: '00Dfa4e000000FAKE!ARfakeAccessTokenNotARealOne',
        instance_url: FAKE_SALESFORCE_INSTANCE_URL,
        id,
        token_type: 'Bearer',
        issued_at: issuedAt,
        signature,
      },
      { 'cache-control': 'no-cache,must-revalidate,max-age=0,no-store,private' },
    );
  };
  const oauthError = (error: string, description: string, status = 400): FakeReply =>
    json(status, { error, error_description: description });
  return {
    matches: (req) => req.method === 'POST' && req.url.pathname === '/services/oauth2/token',
    identity: (req) => form(req).get('username') ?? undefined,
    success,
    handle(req) {
      if (req.url.pathname !== '/services/oauth2/token') {
        return json(404, [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
      }
      if (req.method !== 'POST') return oauthError('invalid_request', 'must use HTTP POST', 405);
      const params = form(req);
      if (params.get('grant_type') !== 'password')
        return oauthError('unsupported_grant_type', 'grant type not supported');
      if (!same(params.get('client_id') ?? undefined, good['consumer-key'])) {
        return oauthError('invalid_client_id', 'client identifier invalid');
      }
      if (!same(params.get('client_secret') ?? undefined, good['consumer-secret'])) {
        return oauthError('invalid_client', 'invalid client credentials');
      }
      const password = good.password + good['secret-token'];
      if (
        !same(params.get('username') ?? undefined, good.username) ||
        !same(params.get('password') ?? undefined, password)
      ) {
        return oauthError('invalid_grant', 'authentication failure');
      }
      return success();
    },
    echo(req) {
      const params = form(req);
      return oauthError(
        'invalid_grant',
        `authentication failure; received client_secret=${params.get('client_secret')} ` +
          `password=${params.get('password')} body=${req.body}`,
        401,
      );
    },
    serverError: htmlError,
  };
}

export function twilioHandler(good: Record<string, string>): FakeVendorHandler {
  const route = /^\/2010-04-01\/Accounts\/([^/]+)\.json$/;
  const twilioError = (status: number, code: number, message: string): FakeReply =>
    json(status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });
  const notFound = (req: FakeRequest) =>
    twilioError(404, 20404, `The requested resource ${req.url.pathname} was not found`);
  const pathSid = (req: FakeRequest) => {
    const match = route.exec(req.url.pathname);
    return match ? decodeURIComponent(match[1]) : undefined;
  };
  const success = (req: FakeRequest): FakeReply => {
    const sid = pathSid(req) ?? good.account;
    const created = rfc2822(new Date('2015-06-01T12:00:00Z'));
    return json(200, {
      sid,
      owner_account_sid: sid,
      friendly_name: 'Fake Twilio account',
      status: 'active',
      type: 'Full',
      date_created: created,
      date_updated: created,
      uri: `/2010-04-01/Accounts/${sid}.json`,
      subresource_uris: { calls: `/2010-04-01/Accounts/${sid}/Calls.json` },
    });
  };
  return {
    matches: (req) => req.method === 'GET' && route.test(req.url.pathname),
    identity: (req) => basic(req.headers)?.user ?? pathSid(req),
    success,
    handle(req) {
      // Twilio authenticates first (401 20003), then looks the resource up (404 20404).
      const creds = basic(req.headers);
      if (!creds || !same(creds.user, good.account) || !same(creds.password, good.password)) {
        return twilioError(401, 20003, 'Authenticate');
      }
      if (req.method !== 'GET' || pathSid(req) !== creds.user) return notFound(req);
      return success(req);
    },
    echo: (req) => twilioError(401, 20003, `Authenticate: ${basicEcho(req)}`),
    serverError: () => twilioError(500, 20500, 'An internal server error has occurred'),
  };
}

export function sendgridHandler(good: Record<string, string>): FakeVendorHandler {
  const errors = (status: number, message: string): FakeReply => json(status, { errors: [{ field: null, message }] });
  const success = (): FakeReply =>
    json(200, {
      address: '1 Fake Street',
      city: 'Denver',
      company: 'Fake Events Inc.',
      country: 'US',
      first_name: 'Dev',
      last_name: 'User',
      phone: '+1 555 0100',
      state: 'CO',
      website: 'https://userevents.test',
      zip: '80202',
    });
  return {
    matches: (req) => req.method === 'GET' && req.url.pathname === '/v3/user/profile',
    identity: (req) => basic(req.headers)?.user,
    success,
    handle(req) {
      const creds = basic(req.headers);
      if (!creds || !same(creds.user, good.account) || !same(creds.password, good.password)) {
        return { ...errors(401, 'authorization required'), headers: { 'www-authenticate': 'Basic realm="SendGrid"' } };
      }
      if (req.method !== 'GET' || req.url.pathname !== '/v3/user/profile') return errors(404, 'resource not found');
      return success();
    },
    echo: (req) => errors(401, `authorization required; ${basicEcho(req)}`),
    serverError: () => errors(500, 'internal server error'),
  };
}

export function datasiftHandler(good: Record<string, string>): FakeVendorHandler {
  const rateHeaders = { 'x-ratelimit-limit': '10000', 'x-ratelimit-remaining': '9999', 'x-ratelimit-cost': '1' };
  const success = (): FakeReply => {
    const end = new Date();
    const start = new Date(end.getTime() - 3600_000);
    return json(200, { streams: {}, start: rfc2822(start), end: rfc2822(end) }, rateHeaders);
  };
  // DataSift's header is "username:api-key", in clear, not Basic.
  const parse = (req: FakeRequest) => {
    const header = req.headers.authorization ?? '';
    const colon = header.indexOf(':');
    return colon < 0 ? undefined : { user: header.slice(0, colon), key: header.slice(colon + 1) };
  };
  return {
    matches: (req) => req.method === 'GET' && req.url.pathname === '/v1.6/usage',
    identity: (req) => parse(req)?.user,
    success,
    handle(req) {
      const creds = parse(req);
      if (!creds || !same(creds.user, good.username) || !same(creds.key, good['api-key'])) {
        return json(401, { error: 'Authentication failed' });
      }
      if (req.method !== 'GET' || req.url.pathname !== '/v1.6/usage') return json(404, { error: 'Endpoint not found' });
      return success();
    },
    echo: (req) => json(401, { error: `Authentication failed for Authorization: ${req.headers.authorization ?? ''}` }),
    serverError: htmlError,
  };
}

export function pusherHandler(good: Record<string, string>): FakeVendorHandler {
  const route = /^\/apps\/([^/]+)\/channels$/;
  const success = (): FakeReply => json(200, { channels: {} });
  return {
    matches: (req) => req.method === 'GET' && route.test(req.url.pathname),
    identity: (req) => req.url.searchParams.get('auth_key') ?? undefined,
    success,
    handle(req) {
      const match = route.exec(req.url.pathname);
      if (!match || req.method !== 'GET') return text(404, 'Not found');
      if (decodeURIComponent(match[1]) !== good['app-id']) return text(404, 'Unknown app');
      const query = req.url.searchParams;
      if (!same(query.get('auth_key') ?? undefined, good.key)) return text(401, 'Unknown auth_key');
      if (query.get('auth_version') !== '1.0') return text(401, 'Invalid auth_version');
      const timestamp = Number(query.get('auth_timestamp'));
      const now = Math.floor(Date.now() / 1000);
      if (!Number.isFinite(timestamp) || Math.abs(now - timestamp) > 600) {
        return text(
          401,
          `Timestamp expired: Given timestamp (${query.get('auth_timestamp')}) not within 600s of server time (${now})`,
        );
      }
      // Pusher signs "METHOD\npath\nquery sorted by key, auth_signature left out", values as received.
      const toSign = [...query.entries()]
        .filter(([name]) => name !== 'auth_signature')
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([name, value]) => `${name}=${value}`)
        .join('&');
      const stringToSign = `${req.method}\n${req.url.pathname}\n${toSign}`;
      const expected = createHmac('sha256', good.secret).update(stringToSign).digest('hex');
      const sent = query.get('auth_signature') ?? '';
      if (!same(sent, expected)) {
        return text(
          401,
          `Invalid signature: you should have sent HmacSHA256Hex(${JSON.stringify(stringToSign)}, your_secret_key), ` +
            `but you sent "${sent}"`,
        );
      }
      return success();
    },
    // Pusher never receives the secret (requests are signed), so the careless fake
    // leaks the one it keeps on file, which is what a verify with the good secret sends.
    echo: (req) => text(401, `Unknown auth_key; app secret on file is ${good.secret}; received ${req.url.search}`),
    serverError: () => text(500, 'Internal Server Error'),
  };
}

export function urbanAirshipHandler(good: Record<string, string>): FakeVendorHandler {
  const airshipError = (status: number, error: string, code: number): FakeReply =>
    json(status, { ok: false, error, error_code: code });
  const success = (): FakeReply =>
    json(200, { ok: true, channels: [] }, { 'content-type': 'application/vnd.urbanairship+json; version=3' });
  return {
    matches: (req) => req.method === 'GET' && req.url.pathname === '/api/channels',
    identity: (req) => basic(req.headers)?.user,
    success,
    handle(req) {
      const creds = basic(req.headers);
      if (!creds || !same(creds.user, good.username) || !same(creds.password, good.password)) {
        return {
          ...airshipError(401, 'Unauthorized', 40101),
          headers: { 'www-authenticate': 'Basic realm="Airship"' },
        };
      }
      if (req.method !== 'GET' || req.url.pathname !== '/api/channels') return airshipError(404, 'Not found', 40400);
      if (!/version=3/.test(req.headers.accept ?? '')) {
        return airshipError(406, 'Unsupported or missing API version in the Accept header', 40601);
      }
      return success();
    },
    echo: (req) => airshipError(401, `Unauthorized: ${basicEcho(req)}`, 40101),
    serverError: htmlError,
  };
}
