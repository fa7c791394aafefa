import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';
import { Webhook } from 'standardwebhooks';
import { CONFIGURATION, type Configuration } from '../config/configuration';

/** Response bodies are read this far and no further, and stored at most this long. */
export const MAX_EXCERPT_BYTES = 1024;
const USER_AGENT = 'integrations-api-webhooks/1 (+https://www.standardwebhooks.com)';

/** One message to one endpoint. */
export interface OutgoingMessage {
  url: string;
  /** The event id: the `webhook-id` header, the same on every attempt. */
  eventId: string;
  /** The exact JSON body. */
  body: string;
  /** The plaintext secrets that sign it (`whsec_…`): the current one, and the previous one during a rotation's overlap. */
  secrets: string[];
}

/** What an attempt came to. `ok` means a 2xx; redirects, other statuses and transport errors are failures. */
export interface SendResult {
  ok: boolean;
  statusCode: number | null;
  /** Why it failed, in a few words (never a secret, the signature or the payload). */
  error: string | null;
  excerpt: string | null;
  durationMs: number;
}

/**
 * Sends Standard Webhooks messages (https://www.standardwebhooks.com):
 * `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature`,
 * one `v1,<base64 HMAC-SHA256 of id.timestamp.body>` per secret, space
 * separated, made by the spec's reference library.
 *
 * Outbound safety: the connection goes through request-filtering-agent, which
 * checks the address a name RESOLVED to at connect time (loopback, private,
 * link-local and meta addresses refused unless WEBHOOK_ALLOW_PRIVATE=true),
 * so a name that points somewhere new later is caught; redirects are not
 * followed (node:http never does); one deadline for the whole attempt; at
 * most 1 kB of the answer is read.
 */
@Injectable()
export class WebhookSender implements OnApplicationShutdown {
  private readonly httpAgent: RequestFilteringHttpAgent;
  private readonly httpsAgent: RequestFilteringHttpsAgent;
  private readonly timeoutMs: number;

  constructor(@Inject(CONFIGURATION) config: Configuration) {
    const filter = { allowPrivateIPAddress: config.webhooks.allowPrivate, allowMetaIPAddress: config.webhooks.allowPrivate };
    // No keep-alive: every attempt connects (and so is checked) afresh, and nothing is left open at shutdown.
    this.httpAgent = new RequestFilteringHttpAgent({ keepAlive: false, ...filter });
    this.httpsAgent = new RequestFilteringHttpsAgent({ keepAlive: false, ...filter });
    this.timeoutMs = config.webhooks.timeoutMs;
  }

  /** The `webhook-signature` header of a message: one signature per secret. */
  static signature(message: Pick<OutgoingMessage, 'eventId' | 'body' | 'secrets'>, at: Date): string {
    return message.secrets.map((secret) => new Webhook(secret).sign(message.eventId, at, message.body)).join(' ');
  }

  send(message: OutgoingMessage, signal?: AbortSignal): Promise<SendResult> {
    const started = Date.now();
    const at = new Date(started);
    const url = new URL(message.url);
    const https = url.protocol === 'https:';
    const body = Buffer.from(message.body, 'utf8');
    return new Promise<SendResult>((resolve) => {
      let settled = false;
      const finish = (result: Omit<SendResult, 'durationMs'>): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve({ ...result, durationMs: Date.now() - started });
      };
      const fail = (error: string, statusCode: number | null = null, excerpt: string | null = null): void =>
        finish({ ok: false, statusCode, error, excerpt });
      const req = (https ? httpsRequest : httpRequest)(url, {
        method: 'POST',
        agent: https ? this.httpsAgent : this.httpAgent,
        headers: {
          'content-type': 'application/json',
          'content-length': body.length,
          'user-agent': USER_AGENT,
          'webhook-id': message.eventId,
          'webhook-timestamp': String(Math.floor(started / 1000)),
          'webhook-signature': WebhookSender.signature(message, at),
        },
      });
      const timer = setTimeout(() => {
        req.destroy();
        fail(`no answer within ${this.timeoutMs} ms`);
      }, this.timeoutMs);
      const onAbort = (): void => {
        req.destroy();
        fail('the service stopped during the attempt');
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (error: NodeJS.ErrnoException) => fail(describeError(error)));
      req.on('response', (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        readExcerpt(res, (excerpt) => {
          if (status >= 200 && status < 300) finish({ ok: true, statusCode: status, error: null, excerpt });
          else if (status >= 300 && status < 400) fail(`answered ${status} (a redirect; redirects are not followed)`, status, excerpt);
          else fail(`answered ${status}`, status, excerpt);
        });
      });
      req.end(body);
    });
  }

  onApplicationShutdown(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** Reads at most MAX_EXCERPT_BYTES of a response, then drops the connection. */
function readExcerpt(res: IncomingMessage, done: (excerpt: string | null) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const end = (): void => {
    if (finished) return;
    finished = true;
    const bytes = Buffer.concat(chunks).subarray(0, MAX_EXCERPT_BYTES);
    // Cut at a character boundary: the stored text is at most 1 kB of UTF-8.
    let text = bytes.toString('utf8');
    while (Buffer.byteLength(text, 'utf8') > MAX_EXCERPT_BYTES) text = text.slice(0, -1);
    done(size === 0 ? null : text);
  };
  res.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= MAX_EXCERPT_BYTES) {
      end();
      res.destroy();
    }
  });
  res.on('end', end);
  res.on('error', end);
  res.on('close', end);
}

/** A transport error in a few words: the address refused, the connection refused, … never the URL's path or query. */
function describeError(error: NodeJS.ErrnoException): string {
  if (/is not allowed/i.test(error.message)) {
    // request-filtering-agent says `DNS lookup <address>(family:…, host:…) is not allowed…`.
    const address = /lookup ([0-9a-f.:]+)\(/i.exec(error.message)?.[1];
    return `refused to connect to ${address ?? 'the address'}: a loopback, private or link-local address (WEBHOOK_ALLOW_PRIVATE=true allows it)`.slice(
      0,
      300,
    );
  }
  if (error.code !== undefined) return `connection failed (${error.code})`;
  return 'connection failed';
}
