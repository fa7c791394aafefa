import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { mayRevealSecrets, type Principal } from '../auth/scopes';
import { actorOfRequest } from '../common/request-actor';
import type { ReadOptions } from './integrations.service';

/**
 * How this request reads integrations: secrets revealed when the token may
 * (integrations:secrets), and who reads, for the audit event a revealing read
 * writes. One parameter on the hot read routes instead of two.
 */
export const ReadAs = createParamDecorator((_data: unknown, context: ExecutionContext): ReadOptions => {
  const request = context.switchToHttp().getRequest<FastifyRequest & { user: Principal }>();
  return { reveal: mayRevealSecrets(request.user), actor: actorOfRequest(request) };
});
