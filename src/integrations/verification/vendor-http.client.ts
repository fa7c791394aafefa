/**
 * The one HTTP client the verifiers use: global fetch with a deadline, no retry on
 * any HTTP status (a 401 stays a 401; a 5xx retried could lock an account), and a
 * single retry on a network error, where a fresh connection often helps. Errors
 * never carry the URL's query, the headers or the body, which hold credentials.
 */

/** A sensible default for configuration; tests use ~500 ms. */
export const DEFAULT_VERIFY_TIMEOUT_MS = 10_000;

/** Pause before the one retry, so a restarting peer gets a moment. */
const RETRY_DELAY_MS = 100;

export interface VendorRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  url: string;
  headers?: Record<string, string>;
  /** Raw body; ignored when `form` is given. */
  body?: string;
  /** Sent as application/x-www-form-urlencoded. */
  form?: Record<string, string>;
}

export interface VendorResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
  /** The parsed body when it is JSON, else undefined. */
  json?: unknown;
}

export class VendorTimeoutError extends Error {
  override readonly name = 'VendorTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms`);
  }
}

export class VendorNetworkError extends Error {
  override readonly name = 'VendorNetworkError';
  constructor(
    message: string,
    /** ECONNREFUSED, ENOTFOUND, UND_ERR_SOCKET, EINVALIDURL, … */
    readonly code: string,
    /** How many times the request was sent (2 after the retry). */
    readonly attempts: number,
  ) {
    super(message);
  }
}

export class VendorHttpClient {
  readonly timeoutMs: number;

  constructor(options: { timeoutMs: number }) {
    if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) {
      throw new RangeError('timeoutMs must be a positive number');
    }
    this.timeoutMs = options.timeoutMs;
  }

  async request(request: VendorRequest): Promise<VendorResponse> {
    const host = hostOf(request.url);
    // One deadline for the whole call, retry included: "within the configured timeout" holds.
    const signal = AbortSignal.timeout(this.timeoutMs);
    const init = toFetchInit(request, signal);
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await fetch(request.url, init);
        // Reading the body is under the same signal, so a vendor that stalls mid-body times out too.
        const text = await response.text();
        return { status: response.status, headers: headersOf(response.headers), text, json: parseJson(text) };
      } catch (error) {
        if (signal.aborted || isAbort(error)) throw new VendorTimeoutError(this.timeoutMs);
        const code = networkCode(error);
        if (attempt === 1 && isRetryable(code)) {
          await sleep(RETRY_DELAY_MS, signal).catch(() => {
            throw new VendorTimeoutError(this.timeoutMs);
          });
          continue;
        }
        throw new VendorNetworkError(describe(code, host, attempt), code, attempt);
      }
    }
  }
}

function toFetchInit(request: VendorRequest, signal: AbortSignal): RequestInit {
  const headers: Record<string, string> = {
    accept: 'application/json',
    'user-agent': 'integrations-api-verify/1',
    ...lowerKeys(request.headers ?? {}),
  };
  let body = request.body;
  if (request.form) {
    body = new URLSearchParams(request.form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  // redirect: 'manual' — credentials go to the configured host only, never where a 3xx points.
  return { method: request.method, headers, body, signal, redirect: 'manual' };
}

/** host:port only; the URL itself may carry credentials (Pusher signs in the query). */
function hostOf(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new VendorNetworkError('invalid vendor URL', 'EINVALIDURL', 0);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new VendorNetworkError(`unsupported vendor URL scheme ${parsed.protocol}`, 'EINVALIDURL', 0);
  }
  return parsed.host;
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

function headersOf(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, key) => {
    out[key] = value;
  });
  return out;
}

function parseJson(text: string): unknown {
  const start = text.trimStart()[0];
  if (start !== '{' && start !== '[') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isAbort(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}

/** undici wraps the socket error: TypeError('fetch failed', { cause }), the cause sometimes an AggregateError. */
function networkCode(error: unknown): string {
  // A TypeError with no cause was raised before any socket (e.g. an invalid header value): not retryable.
  if (error instanceof TypeError && error.cause === undefined) return 'EREQUEST';
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
    const { code, errors, cause } = current as { code?: unknown; errors?: unknown; cause?: unknown };
    if (typeof code === 'string') return code;
    current = Array.isArray(errors) && errors.length ? errors[0] : cause;
  }
  return 'ENETWORK';
}

/** TLS certificate problems do not heal on a second try; everything else at the socket level might. */
function isRetryable(code: string): boolean {
  return !/CERT|TLS|SSL|SELF_SIGNED/.test(code) && code !== 'EINVALIDURL' && code !== 'EREQUEST';
}

function describe(code: string, host: string, attempts: number): string {
  const what: Record<string, string> = {
    ECONNREFUSED: `connection refused by ${host}`,
    ECONNRESET: `connection reset by ${host}`,
    UND_ERR_SOCKET: `${host} closed the connection`,
    ENOTFOUND: `cannot resolve ${host}`,
    EAI_AGAIN: `cannot resolve ${host} (DNS unavailable)`,
    ETIMEDOUT: `connection to ${host} timed out`,
    UND_ERR_CONNECT_TIMEOUT: `connection to ${host} timed out`,
    EHOSTUNREACH: `${host} is unreachable`,
    ENETUNREACH: `network unreachable for ${host}`,
    EREQUEST: `invalid request for ${host}`,
  };
  const text = what[code] ?? `network error talking to ${host}`;
  return `${text} (${code}), ${attempts} attempt${attempts === 1 ? '' : 's'}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('aborted'));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
