import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  datasiftHandler,
  type FakeReply,
  type FakeRequest,
  type FakeVendorHandler,
  type FakeVendorType,
  pusherHandler,
  salesforceHandler,
  sendgridHandler,
  twilioHandler,
  urbanAirshipHandler,
} from './fake-vendor-handlers';

/**
 * Local fake vendors: one real HTTP server per vendor on loopback, so the verifiers
 * and the e2e tests exercise real sockets, status codes and bodies, with no internet.
 *
 * The identity field (Salesforce username, Twilio account, SendGrid account, DataSift
 * username, Pusher key, Urban Airship app key) can trigger test behaviours:
 *   hang     → never answers (until close())
 *   slow     → the success answer after FAKE_SLOW_DELAY_MS
 *   error500 → the vendor's 500
 *   echo     → a 401 whose body echoes the credentials received, secret included
 */

export { FAKE_SALESFORCE_INSTANCE_URL } from './fake-vendor-handlers';
export type { FakeReply, FakeVendorType } from './fake-vendor-handlers';

export type FakeVendorKey = 'salesforce' | 'twilio' | 'sendgrid' | 'datasift' | 'pusher' | 'urbanAirship';

export interface FakeVendors {
  urls: Record<FakeVendorKey, string>; // base URLs like http://127.0.0.1:PORT
  /** credentials the fakes accept, per vendor type, as wire-format field maps (kebab-case keys, exactly the vendor DTO fields) */
  good: Record<FakeVendorType, Record<string, string>>;
  /** env vars pointing the service at the fakes: SALESFORCE_LOGIN_URL, TWILIO_API_URL, SENDGRID_API_URL, DATASIFT_API_URL, PUSHER_API_URL, URBAN_AIRSHIP_API_URL */
  env: Record<string, string>;
  /** Requests each fake has received so far (e.g. to check a retry, or that a dry run called the vendor). */
  hits: Record<FakeVendorKey, number>;
  /** When each identity (Twilio account, SendGrid account, …) called, epoch ms: who was checked, how often. */
  callsBy: Map<string, number[]>;
  /** An answer a fake gives every request while set (a 429 with Retry-After, a 503), instead of its own. */
  forced: Partial<Record<FakeVendorKey, FakeReply>>;
  close(): Promise<void>; // must also end hanging requests so jest exits
}

export const FAKE_SLOW_DELAY_MS = 3000;
/** Identity values that trigger the test behaviours. */
export const FAKE_SPECIAL_IDENTITIES = ['hang', 'slow', 'error500', 'echo'] as const;

/** Vendor i of this list listens on basePort + i. */
export const FAKE_VENDORS: readonly { key: FakeVendorKey; type: FakeVendorType; env: string }[] = [
  { key: 'salesforce', type: 'salesforce', env: 'SALESFORCE_LOGIN_URL' },
  { key: 'twilio', type: 'twilio', env: 'TWILIO_API_URL' },
  { key: 'sendgrid', type: 'sendgrid', env: 'SENDGRID_API_URL' },
  { key: 'datasift', type: 'datasift', env: 'DATASIFT_API_URL' },
  { key: 'pusher', type: 'pusher', env: 'PUSHER_API_URL' },
  { key: 'urbanAirship', type: 'urban-airship', env: 'URBAN_AIRSHIP_API_URL' },
];

/** Plausible-looking, obviously fake credentials; the Salesforce password has a '+' to exercise form encoding. */
export const FAKE_GOOD_CREDENTIALS: Readonly<Record<FakeVendorType, Readonly<Record<string, string>>>> = {
  salesforce: {
    'consumer-key': '3MVG9fakeConsumerKey.0000000000000000000000000000000000001',
    'consumer-secret': 'FAKE0CONSUMER0SECRET0000000000000000000000000001',
    username: 'dev@userevents.com',
    password: 'fake-Passw0rd+1',
    'secret-token': 'FakeSecurityToken0000001',
  },
  twilio: { account: 'ACfa4e000000000000000000000000a1a1', password: 'f4a1e0c0ffee0000000000000000beef' },
  sendgrid: { account: 'fake-sendgrid-user', password: 'fake-SG-passw0rd' },
  datasift: { username: 'fake-datasift-user', 'api-key': 'd5f1a4e000000000000000000000001f' },
  pusher: { 'app-id': '1234567', key: 'fa4e0000000000000001', secret: 'fa4e5ec0000000000001' },
  'urban-airship': { username: 'FakeAppKey000000000001', password: 'FakeMasterSecret000001' },
};

const MAX_BODY_BYTES = 64 * 1024;

export async function startFakeVendors(options: { host?: string; basePort?: number } = {}): Promise<FakeVendors> {
  const host = options.host ?? '127.0.0.1';
  const good = structuredClone(FAKE_GOOD_CREDENTIALS) as Record<FakeVendorType, Record<string, string>>;
  const urls = {} as Record<FakeVendorKey, string>;
  const hits = Object.fromEntries(FAKE_VENDORS.map((v) => [v.key, 0])) as Record<FakeVendorKey, number>;
  const callsBy = new Map<string, number[]>();
  const forced: Partial<Record<FakeVendorKey, FakeReply>> = {};
  const handlers: Record<FakeVendorKey, FakeVendorHandler> = {
    salesforce: salesforceHandler(good.salesforce, () => urls.salesforce),
    twilio: twilioHandler(good.twilio),
    sendgrid: sendgridHandler(good.sendgrid),
    datasift: datasiftHandler(good.datasift),
    pusher: pusherHandler(good.pusher),
    urbanAirship: urbanAirshipHandler(good['urban-airship']),
  };

  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const servers: Server[] = [];
  let closing: Promise<void> | undefined;

  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
      // Hanging and keep-alive connections would hold server.close() (and jest) forever.
      for (const socket of sockets) socket.destroy();
      await Promise.all(closed);
    })();
    return closing;
  };

  try {
    for (const [index, vendor] of FAKE_VENDORS.entries()) {
      const server = createServer((req, res) => {
        hits[vendor.key]++;
        void serve(handlers[vendor.key], req, res, timers, callsBy, () => forced[vendor.key]);
      });
      server.on('connection', (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      servers.push(server);
      const port = options.basePort === undefined ? 0 : options.basePort + index;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address() as AddressInfo;
      urls[vendor.key] = `http://${urlHost(host)}:${address.port}`;
    }
  } catch (error) {
    await close();
    throw error;
  }

  const env = Object.fromEntries(FAKE_VENDORS.map((v) => [v.env, urls[v.key]]));
  return { urls, good, env, hits, callsBy, forced, close };
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

async function serve(
  handler: FakeVendorHandler,
  req: IncomingMessage,
  res: ServerResponse,
  timers: Set<NodeJS.Timeout>,
  callsBy: Map<string, number[]>,
  forced: () => FakeReply | undefined,
): Promise<void> {
  let request: FakeRequest;
  try {
    request = {
      method: req.method ?? 'GET',
      url: new URL(req.url ?? '/', 'http://fake.invalid'),
      headers: req.headers,
      body: await readBody(req),
    };
  } catch {
    send(res, { status: 413, body: { error: 'request too large or unreadable' } });
    return;
  }
  const identity = handler.matches(request) ? handler.identity(request) : undefined;
  if (identity !== undefined) callsBy.set(identity, [...(callsBy.get(identity) ?? []), Date.now()]);
  const answer = forced();
  if (answer !== undefined) return send(res, answer);
  switch (identity) {
    case 'hang':
      return; // never answers; close() destroys the socket
    case 'slow': {
      const timer = setTimeout(() => {
        timers.delete(timer);
        send(res, handler.success(request));
      }, FAKE_SLOW_DELAY_MS);
      timers.add(timer);
      return;
    }
    case 'error500':
      return send(res, handler.serverError());
    case 'echo':
      return send(res, handler.echo(request));
    case undefined:
    default:
      return send(res, handler.handle(request));
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, reply: FakeReply): void {
  if (res.destroyed || res.headersSent) return;
  const isText = typeof reply.body === 'string';
  const payload = isText ? (reply.body as string) : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'content-type': isText ? (reply.contentType ?? 'text/plain; charset=utf-8') : 'application/json;charset=UTF-8',
    'content-length': Buffer.byteLength(payload),
    ...reply.headers,
  });
  res.end(payload);
}
