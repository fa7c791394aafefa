import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { ValidationFailedError } from '../../common/errors/domain-errors';

/** `dry-run=true|false` (also 1|0); absent = false. Anything else is a 400, not a silent false. */
export function parseDryRun(value: unknown): boolean {
  if (value === undefined || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  const message = 'dry-run must be true or false';
  throw new ValidationFailedError(message, [{ field: 'dry-run', message }]);
}

/**
 * The `?dry-run=` query parameter as a boolean. A custom decorator rather than
 * `@Query` + pipe: the global ValidationPipe would first turn any value but
 * "true" into false for a boolean parameter, hiding a typo like `dry-run=yes`.
 */
export const DryRun = createParamDecorator((_data: unknown, context: ExecutionContext): boolean =>
  parseDryRun(context.switchToHttp().getRequest<{ query?: Record<string, unknown> }>().query?.['dry-run']),
);
