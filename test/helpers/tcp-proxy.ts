import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** The database "goes away": open connections are cut and new ones refused. */
  stop: () => Promise<void>;
  /** The database is back on the same address. */
  start: () => Promise<void>;
  /** A network partition: connections stay open and new ones are accepted, but no byte goes through. */
  freeze: () => void;
  /** The partition heals: what was held back flows again. */
  thaw: () => void;
  close: () => Promise<void>;
}

/**
 * A TCP relay on 127.0.0.1 in front of a real database, so a test can make the
 * database unreachable (and bring it back) without touching the server itself.
 */
export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  let server: Server | undefined;
  let port = 0;
  let frozen = false;

  const listen = async (): Promise<void> => {
    if (server !== undefined) return;
    const next = createServer((client) => {
      const upstream = connect(targetPort, targetHost);
      const pair: [Socket, Socket] = [client, upstream];
      pairs.add(pair);
      for (const socket of pair) {
        sockets.add(socket);
        socket.on('close', () => {
          sockets.delete(socket);
          pairs.delete(pair);
        });
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      if (!frozen) {
        client.pipe(upstream);
        upstream.pipe(client);
      }
    });
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => resolve());
    });
    server = next;
    port = (next.address() as { port: number }).port;
  };

  const stop = async (): Promise<void> => {
    const current = server;
    server = undefined;
    if (current === undefined) return;
    const closed = new Promise<void>((resolve) => current.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };

  const freeze = (): void => {
    frozen = true;
    for (const [client, upstream] of pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  };

  const thaw = (): void => {
    frozen = false;
    for (const [client, upstream] of pairs) {
      client.pipe(upstream);
      upstream.pipe(client);
    }
  };

  await listen();
  return {
    get port() {
      return port;
    },
    stop,
    start: listen,
    freeze,
    thaw,
    close: stop,
  };
}
