import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../auth/scopes';

/**
 * Who did something and through which request: what a version row and an
 * audit event record about their cause. Never a token or a secret.
 */
export interface RequestActor {
  /** The verified token's `sub` (an API client's id for self-issued tokens); `cli:<user>` or `system` outside HTTP. */
  readonly sub: string;
  /** The request's id (X-Request-Id, as logged and answered); empty outside HTTP. */
  readonly requestId: string;
  /** The client address the request came from (no proxy headers are trusted). */
  readonly address: string | null;
  /** The User-Agent header, cut to 200 characters. */
  readonly userAgent: string | null;
}

const MAX_USER_AGENT = 200;

export function actorOfRequest(request: FastifyRequest & { user?: Principal }): RequestActor {
  const agent = request.headers['user-agent'];
  return {
    sub: request.user?.subject ?? 'anonymous',
    requestId: request.id,
    address: request.ip ?? null,
    userAgent: typeof agent === 'string' ? agent.slice(0, MAX_USER_AGENT) : null,
  };
}

/** The actor of work that no request caused: background jobs (`system`) and the command line (`cli:<user>`). */
export function systemActor(sub: string): RequestActor {
  return { sub, requestId: '', address: null, userAgent: null };
}

/** The caller of this request as a RequestActor: `@Actor() actor: RequestActor`. */
export const Actor = createParamDecorator(
  (_data: unknown, context: ExecutionContext): RequestActor => actorOfRequest(context.switchToHttp().getRequest<FastifyRequest & { user?: Principal }>()),
);
