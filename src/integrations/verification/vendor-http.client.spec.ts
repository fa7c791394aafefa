import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { VendorHttpClient, VendorNetworkError, VendorTimeoutError } from './vendor-http.client';

/** A tiny loopback server whose routes model the cases the client must tell apart. */
async function startServer(): Promise<{ url: string; hits: Map<string, number>; close(): Promise<void> }> {
  const hits = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const count = (hits.get(path) ?? 0) + 1;
    hits.set(path, count);
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      if (path === '/json') {
        res.writeHead(200, { 'content-type': 'application/json', 'x-vendor': 'yes' });
        res.end('{"hello":"world"}');
      } else if (path === '/echo') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ body, contentType: req.headers['content-type'], method: req.method }));
      } else if (path.startsWith('/status/')) {
        res.writeHead(Number(path.slice(8)), { 'content-type': 'text/html' });
        res.end('<html><body>nope</body></html>');
      } else if (path === '/reset-once' && count === 1) {
        req.socket.destroy();
      } else if (path === '/reset-once') {
        res.end('second time lucky');
      } else if (path === '/reset-always') {
        req.socket.destroy();
      } else if (path === '/redirect') {
        res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' });
        res.end();
      } else if (path === '/hang') {
        // never answers
      } else {
        res.writeHead(404);
        res.end();
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('VendorHttpClient', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  const http = new VendorHttpClient({ timeoutMs: 400 });

  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  it('returns status, lower-cased headers, text and parsed JSON', async () => {
    const response = await http.request({ method: 'GET', url: `${server.url}/json` });
    expect(response.status).toBe(200);
    expect(response.headers['x-vendor']).toBe('yes');
    expect(response.text).toBe('{"hello":"world"}');
    expect(response.json).toEqual({ hello: 'world' });
  });

  it('leaves json undefined for a non-JSON body', async () => {
    const response = await http.request({ method: 'GET', url: `${server.url}/status/502` });
    expect(response.status).toBe(502);
    expect(response.text).toBe('<html><body>nope</body></html>');
    expect(response.json).toBeUndefined();
  });

  it('sends `form` form-encoded with its content type', async () => {
    const response = await http.request({
      method: 'POST',
      url: `${server.url}/echo`,
      form: { grant_type: 'password', password: 'a b+c&d=e' },
    });
    expect(response.json).toEqual({
      body: 'grant_type=password&password=a+b%2Bc%26d%3De',
      contentType: 'application/x-www-form-urlencoded',
      method: 'POST',
    });
  });

  it.each([401, 404, 500, 503])('does not retry an HTTP %i', async (status) => {
    const response = await http.request({ method: 'GET', url: `${server.url}/status/${status}` });
    expect(response.status).toBe(status);
    expect(server.hits.get(`/status/${status}`)).toBe(1);
  });

  it('does not follow redirects, so credentials stay with the configured host', async () => {
    const response = await http.request({ method: 'GET', url: `${server.url}/redirect` });
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe('http://127.0.0.1:1/elsewhere');
  });

  it('retries once after a dropped connection, and succeeds', async () => {
    const response = await http.request({ method: 'GET', url: `${server.url}/reset-once` });
    expect(response.status).toBe(200);
    expect(response.text).toBe('second time lucky');
    expect(server.hits.get('/reset-once')).toBe(2);
  });

  it('gives up after the one retry, with a message free of query and headers', async () => {
    const error = await http
      .request({
        method: 'GET',
        url: `${server.url}/reset-always?auth_signature=SIGSECRET`,
        headers: { authorization: 'Basic SECRETHEADER' },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VendorNetworkError);
    const network = error as VendorNetworkError;
    expect(network.attempts).toBe(2);
    expect(server.hits.get('/reset-always')).toBe(2);
    expect(network.message).toMatch(/, 2 attempts$/);
    expect(network.message).not.toMatch(/SIGSECRET|SECRETHEADER|reset-always/);
  });

  it('retries once on a refused connection, then throws VendorNetworkError', async () => {
    const port = await closedPort();
    const fetchSpy = jest.spyOn(globalThis, 'fetch');
    try {
      const error = await http
        .request({ method: 'GET', url: `http://127.0.0.1:${port}/x?key=SECRETQUERY` })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(VendorNetworkError);
      expect((error as VendorNetworkError).code).toBe('ECONNREFUSED');
      expect((error as VendorNetworkError).message).toBe(
        `connection refused by 127.0.0.1:${port} (ECONNREFUSED), 2 attempts`,
      );
      expect(fetchSpy).toHaveBeenCalledTimes(2);
    } finally {
      fetchSpy.mockRestore();
    }
  });

  it('times out a vendor that never answers, without retrying', async () => {
    const started = Date.now();
    const error = await http.request({ method: 'GET', url: `${server.url}/hang` }).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(VendorTimeoutError);
    expect((error as Error).message).toBe('timed out after 400 ms');
    expect(elapsed).toBeGreaterThanOrEqual(350);
    expect(elapsed).toBeLessThan(1500);
    expect(server.hits.get('/hang')).toBe(1);
  });

  it('rejects an invalid URL without echoing it', async () => {
    const error = await http.request({ method: 'GET', url: 'not a url secret=SECRET' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VendorNetworkError);
    expect((error as VendorNetworkError).code).toBe('EINVALIDURL');
    expect((error as Error).message).toBe('invalid vendor URL');
  });

  it('refuses a non-positive timeout', () => {
    expect(() => new VendorHttpClient({ timeoutMs: 0 })).toThrow(RangeError);
  });
});
