import { Global, Inject, Injectable, Logger, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Redis } from 'ioredis';
import { CONFIGURATION, type Configuration } from '../config/configuration';

const STARTUP_WAIT_MS = 2000;

/**
 * The service's Redis connections, or none when REDIS_URL is unset. Redis
 * holds nothing the service cannot do without: while it is unreachable,
 * commands fail at once (no offline queue, a short command timeout) and each
 * user falls back to what one instance can do alone, so a Redis outage never
 * turns into slow or failed API requests. One warning per outage, never the URL.
 */
@Injectable()
export class RedisConnections implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  private readonly opened: Redis[] = [];
  readonly keyPrefix: string;
  /** For commands; null without REDIS_URL. */
  readonly client: Redis | null;

  constructor(@Inject(CONFIGURATION) private readonly config: Configuration) {
    this.keyPrefix = config.redis.keyPrefix;
    this.client = config.redis.url === undefined ? null : this.open('commands');
  }

  get enabled(): boolean {
    return this.client !== null;
  }

  /** A connection of its own for SUBSCRIBE (a subscribed connection takes no other command); null without REDIS_URL. */
  subscriber(): Redis | null {
    return this.config.redis.url === undefined ? null : this.open('subscriber');
  }

  /**
   * Waits (at most STARTUP_WAIT_MS) for the first connection, so an instance
   * that just started counts in Redis from its first request; an unreachable
   * Redis does not keep it from starting.
   */
  async onModuleInit(): Promise<void> {
    const client = this.client;
    if (client === null || client.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        client.off('ready', done);
        client.off('error', done);
        resolve();
      };
      const timer = setTimeout(done, STARTUP_WAIT_MS);
      client.once('ready', done);
      client.once('error', done);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.opened.map((connection) => connection.quit().catch(() => connection.disconnect())));
  }

  private open(role: string): Redis {
    const connection = new Redis(this.config.redis.url!, {
      keyPrefix: role === 'commands' ? this.keyPrefix : undefined,
      enableOfflineQueue: role !== 'commands',
      maxRetriesPerRequest: 1,
      commandTimeout: role === 'commands' ? 500 : undefined,
      connectTimeout: 2000,
      // Keep trying to come back, at most every 2 s.
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    });
    let down = false;
    connection.on('error', (error: Error & { code?: string }) => {
      if (down) return;
      down = true;
      this.logger.warn(`Redis (${role}) is unreachable (${error.code ?? error.name}); each instance works on its own until it is back`);
    });
    connection.on('ready', () => {
      if (!down) return;
      down = false;
      this.logger.log(`Redis (${role}) is reachable again`);
    });
    this.opened.push(connection);
    return connection;
  }
}

@Global()
@Module({ providers: [RedisConnections], exports: [RedisConnections] })
export class RedisModule {}
