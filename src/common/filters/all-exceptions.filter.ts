import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FORM_ROUTES } from '../../clients/form-body';
import { toErrorResponse, toTokenEndpointErrorResponse } from './error-response';

/**
 * Every error of every route ends here (registered as APP_FILTER, so tests that
 * compile AppModule see exactly what production does). Unexpected errors are
 * logged with the request id; the client gets only that id.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    sendError(reply, request, exception, this.logger);
  }
}

export function sendError(reply: FastifyReply, request: FastifyRequest, exception: unknown, logger: Logger): void {
  // The token endpoint (the only routes that take form bodies) answers its 400s as RFC 6749 §5.2 says.
  const response = FORM_ROUTES.has(request.routeOptions?.url ?? '') ? toTokenEndpointErrorResponse(exception) : toErrorResponse(exception);
  if (response.unexpected) {
    // Name and code only: driver messages can quote SQL and parameter values.
    const name = exception instanceof Error ? exception.name : typeof exception;
    const code = (exception as { code?: unknown } | null)?.code;
    const stack = exception instanceof Error ? exception.stack?.split('\n').slice(1, 6).join('\n') : undefined;
    logger.error(`request ${request.id} failed: ${name}${typeof code === 'string' ? ` (${code})` : ''}\n${stack ?? ''}`);
  }
  if (reply.sent) return;
  reply
    .status(response.status)
    .headers({ ...response.headers, 'cache-control': 'no-store' })
    .type('application/json; charset=utf-8')
    .send({ ...response.body, requestId: request.id });
}
