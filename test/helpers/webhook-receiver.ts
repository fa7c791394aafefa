import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** What the receiver answered. */
  status: number;
}

/**
 * A webhook endpoint for the tests, on 127.0.0.1 (port 0): records every
 * request and answers `status` (200 unless a test says otherwise; 3xx with a
 * Location). `verify` checks a request's signature with the Standard
 * Webhooks reference library, as a real receiver would.
 */
export class WebhookReceiver {
  readonly received: Received[] = [];
  status = 200;
  private server: Server | undefined;
  private portNumber = 0;

  get url(): string {
    return `http://127.0.0.1:${this.portNumber}/hooks?token=abc`;
  }

  get port(): number {
    return this.portNumber;
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const status = this.status;
        this.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status });
        if (status >= 300 && status < 400) res.setHeader('location', `http://127.0.0.1:${this.portNumber}/elsewhere`);
        res.statusCode = status;
        res.end(status >= 200 && status < 300 ? 'ok' : 'x'.repeat(5000));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.portNumber = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The requests answered 2xx, by `webhook-id`. */
  acceptedIds(): string[] {
    return this.received.filter((r) => r.status >= 200 && r.status < 300).map((r) => String(r.headers['webhook-id']));
  }

  /** Checks a request's signature; throws when it does not verify. */
  static verify(secret: string, request: Received): unknown {
    return new Webhook(secret).verify(request.body, {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    });
  }
}

/** Polls until `check` holds, or fails after `ms`. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 8000, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
