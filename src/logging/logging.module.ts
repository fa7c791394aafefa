import { Module } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import { LoggerModule, PinoLogger } from 'nestjs-pino';
import type { Options } from 'pino-http';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { AppLogger } from './app.logger';
import { forPerson, prettyDestination } from './terminal';

/**
 * Logs with pino, through nestjs-pino (Nest's Logger writes there, via
 * AppLogger): JSON, one object per line, except for a person at a terminal
 * outside production, who gets pino-pretty's readable lines.
 * Headers (Authorization!) and bodies (secrets!) are never serialized.
 *
 * nestjs-pino's per-request middleware is not mounted (`forRoutes: []`): it
 * costs a child logger, an AsyncLocalStorage context and Nest's middleware
 * layer on every request, about 50 µs of the hot path in the benchmark
 * profile. Request lines come from one Fastify hook instead
 * (registerRequestLogging), and error lines name their request id themselves.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [CONFIGURATION],
      useFactory: (config: Configuration) => {
        const options: Options = {
          level: config.app.logLevel,
          serializers: { err: (error: Error) => ({ type: error.name }) },
        };
        return { pinoHttp: forPerson(config.app) ? [options, prettyDestination()] : options, forRoutes: [] };
      },
    }),
  ],
  providers: [AppLogger],
  exports: [AppLogger],
})
export class LoggingModule {}

/** One line per request when LOG_REQUESTS is on: id, method, URL, status and time. */
export function registerRequestLogging(fastify: FastifyInstance, enabled: boolean): void {
  if (!enabled) return;
  fastify.addHook('onResponse', (request, reply, done) => {
    PinoLogger.root.info(
      {
        reqId: request.id,
        // Plain keys: pino-http's req/res serializers expect node's request objects.
        method: request.method,
        url: request.url,
        statusCode: reply.statusCode,
        responseTime: Math.round(reply.elapsedTime),
      },
      'request completed',
    );
    done();
  });
}
