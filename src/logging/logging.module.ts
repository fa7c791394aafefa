import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { CONFIGURATION, type Configuration } from '../config/configuration';

/** Set by Fastify's genReqId on the raw request, so pino and Fastify share one request id. */
export interface RequestWithId extends IncomingMessage {
  requestId?: string;
}

/**
 * JSON logs (pino) with the request id on every line. Request lines carry the
 * method, URL and status only: headers (Authorization!) and bodies (secrets!)
 * are never serialized.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [CONFIGURATION],
      useFactory: (config: Configuration) => ({
        pinoHttp: {
          level: config.app.logLevel,
          autoLogging: config.app.logRequests,
          quietReqLogger: true,
          genReqId: (request: IncomingMessage) => (request as RequestWithId).requestId ?? randomUUID(),
          serializers: {
            req: (request: IncomingMessage & { id?: string }) => ({ id: request.id, method: request.method, url: request.url }),
            res: (response: ServerResponse) => ({ statusCode: response.statusCode }),
            err: (error: Error) => ({ type: error.name }),
          },
          redact: { paths: ['req.headers', 'req.body', 'res.headers'], remove: true },
        },
      }),
    }),
  ],
})
export class LoggingModule {}
