import type { FastifyInstance } from 'fastify';
import { sendError } from './filters/all-exceptions.filter';
import { DomainError } from './errors/domain-errors';
import { Logger } from '@nestjs/common';

export class RateLimitedError extends DomainError {
  readonly status = 429;
  readonly code = 'RATE_LIMITED';
  override readonly headers: Record<string, string>;
  constructor(retryAfterSeconds: number) {
    super(`Rate limit reached; retry after ${retryAfterSeconds} s`);
    this.headers = { 'Retry-After': String(retryAfterSeconds) };
  }
}

/**
 * Fixed-window request limit per bearer token (per client address without
 * one), in memory: each instance limits on its own. Runs in onRequest, before
 * any token verification or query (configureApp registers it after helmet, so a
 * 429 carries the security headers too).
 */
export function registerRateLimit(fastify: FastifyInstance, max: number, windowMs: number): void {
  if (max <= 0) return;
  const logger = new Logger('RateLimit');
  let windowStart = Date.now();
  let counts = new Map<string, number>();
  fastify.addHook('onRequest', (request, reply, done) => {
    const now = Date.now();
    if (now - windowStart >= windowMs) {
      windowStart = now;
      counts = new Map();
    }
    const authorization = request.headers.authorization;
    const key = typeof authorization === 'string' && authorization.length > 0 ? authorization : `ip:${request.ip}`;
    const count = (counts.get(key) ?? 0) + 1;
    counts.set(key, count);
    if (count > max) {
      const retryAfter = Math.max(1, Math.ceil((windowStart + windowMs - now) / 1000));
      sendError(reply, request, new RateLimitedError(retryAfter), logger);
      return;
    }
    done();
  });
}
