import { HttpException, HttpStatus } from '@nestjs/common';
import { isDatabaseUnavailable, isRetryableConflict } from '../../database/database-errors';
import { DatabaseBusyError, DatabaseUnavailableError, DomainError, OAuthError, type ErrorDetail } from '../errors/domain-errors';

export interface ErrorBody {
  error: string;
  code?: string;
  /** RFC 6749 §5.2's human-readable text, beside its code in `error` (token endpoint only). */
  error_description?: string;
  details?: ErrorDetail[];
  requestId?: string;
}

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
  /** True when the cause is ours (5xx other than 503): log it with its stack. */
  unexpected: boolean;
}

/**
 * The answer of the token endpoint (RFC 6749 §5.2): its own refusals are
 * OAuthErrors already; a 400 raised before it runs (a JSON body that does not
 * parse, or is empty) is an `invalid_request` too, with the message as its
 * description, so that every 400 of the endpoint has the RFC's shape. Its
 * other failures (413, 415, 429, 5xx) keep the API's error format.
 */
export function toTokenEndpointErrorResponse(exception: unknown): ErrorResponse {
  const response = toErrorResponse(exception);
  if (response.status !== 400 || exception instanceof OAuthError) return response;
  return { ...response, body: { error: 'invalid_request', error_description: response.body.error } };
}

/** Fastify's own errors (body parsing, limits, routing) carry `statusCode` and an `FST_…` code. */
interface FastifyLikeError {
  statusCode?: number;
  code?: string;
}

const FASTIFY_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'Request body is not valid JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'Request body is empty; send a JSON object',
  FST_ERR_CTP_BODY_TOO_LARGE: 'Request body is too large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Unsupported content type; send application/json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Content-Length does not match the body',
  FST_ERR_CTP_INVALID_TYPE: 'Invalid Content-Type header',
  FST_ERR_BAD_URL: 'The URL does not decode: a percent-escape in it is malformed',
  FST_ERR_MAX_PARAM_LENGTH: 'A path segment is too long',
};

const STATUS_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  409: 'CONFLICT',
  411: 'LENGTH_REQUIRED',
  412: 'PRECONDITION_FAILED',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  428: 'PRECONDITION_REQUIRED',
  429: 'RATE_LIMITED',
  431: 'HEADERS_TOO_LARGE',
};

/**
 * Turns anything thrown into the one error shape of the API. Only messages we
 * wrote reach the client: driver, SQL and stack text never do.
 */
export function toErrorResponse(exception: unknown): ErrorResponse {
  if (exception instanceof OAuthError) {
    // RFC 6749 §5.2: the code is the error; the message is its description.
    return { status: exception.status, body: { error: exception.code, error_description: exception.message }, headers: exception.headers, unexpected: false };
  }
  if (exception instanceof DomainError) {
    return {
      status: exception.status,
      body: { error: exception.message, code: exception.code, ...(exception.details ? { details: exception.details } : {}) },
      headers: exception.headers,
      unexpected: exception.status >= 500 && exception.status !== 503,
    };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    let message = exception.message;
    if (typeof response === 'object' && response !== null && 'message' in response) {
      const inner: unknown = response.message;
      message = Array.isArray(inner) ? inner.join('; ') : String(inner);
    }
    if (status === 404 && /^Cannot (GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)/.test(message)) {
      message = `No route ${message.replace(/^Cannot /, '')}`;
    }
    return { status, body: { error: message, code: STATUS_CODES[status] ?? 'ERROR' }, headers: {}, unexpected: status >= 500 };
  }
  if (isDatabaseUnavailable(exception)) return toErrorResponse(new DatabaseUnavailableError());
  if (isRetryableConflict(exception)) return toErrorResponse(new DatabaseBusyError());
  const fastify = exception as FastifyLikeError;
  if (typeof fastify?.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 500) {
    const status = fastify.statusCode;
    const message = (fastify.code && FASTIFY_MESSAGES[fastify.code]) ?? (STATUS_CODES[status] ?? 'Bad request').toLowerCase().replaceAll('_', ' ');
    return { status, body: { error: message, code: STATUS_CODES[status] ?? 'BAD_REQUEST' }, headers: {}, unexpected: false };
  }
  return {
    status: HttpStatus.INTERNAL_SERVER_ERROR,
    body: { error: 'Internal error; quote the request id to an operator', code: 'INTERNAL' },
    headers: {},
    unexpected: true,
  };
}
