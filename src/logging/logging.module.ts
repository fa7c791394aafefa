import { Module } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import { LoggerModule, PinoLogger } from 'nestjs-pino';
import type { Options } from 'pino-http';
import { FORM_ROUTES } from '../clients/form-body';
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

/**
 * The URL of a request line: as the client sent it (with a /1.0 prefix, if
 * any), but without the query string of the token endpoint. RFC 6749 forbids
 * client credentials in a URL; a client that puts them there anyway must not
 * get them into the logs.
 */
export function loggedUrl(request: { originalUrl: string; routeOptions: { url?: string } }): string {
  const url = request.originalUrl;
  const query = url.indexOf('?');
  if (query < 0 || !FORM_ROUTES.has(request.routeOptions.url ?? '')) return url;
  return `${url.slice(0, query)}?[query not logged]`;
}

/** One line per request when LOG_REQUESTS is on: id, method, URL, status and time. */
export function registerRequestLogging(fastify: FastifyInstance, enabled: boolean): void {
  if (!enabled) return;
  fastify.addHook('onResponse', (request, reply, done) => {
    PinoLogger.root.info(
      {
        reqId: request.id,
        // Plain keys: pino-http's req/res serializers expect node's request objects.
        method: request.method,
        url: loggedUrl(request),
        statusCode: reply.statusCode,
        responseTime: Math.round(reply.elapsedTime),
      },
      'request completed',
    );
    done();
  });
}
