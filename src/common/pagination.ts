import { applyDecorators, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { ApiQuery } from '@nestjs/swagger';
import type { ErrorDetail } from './errors/domain-errors';
import { validationFailed } from './pipes/validation';

/** `?limit=&offset=` of list routes; the total goes in `X-Total-Count`. */
export interface PageQuery {
  limit: number;
  offset: number;
}

const BOUNDS = {
  limit: { min: 1, max: 1000, fallback: 100 },
  offset: { min: 0, max: 1_000_000_000, fallback: 0 },
} as const;

/**
 * Reads `limit` and `offset` from a query string: decimal integers within
 * their bounds; any other query parameter is refused, like an unknown body
 * field. Parsed by hand rather than by a class-validator DTO: list routes are
 * on the hot path, and the DTO's transform + validate cost about 50 µs a
 * request for two integers.
 */
export function parsePageQuery(query: Readonly<Record<string, unknown>>): PageQuery {
  const details: ErrorDetail[] = [];
  for (const key of Object.keys(query)) {
    if (key !== 'limit' && key !== 'offset') details.push({ field: key, message: `property ${key} should not exist` });
  }
  const page = { limit: 0, offset: 0 };
  for (const name of ['limit', 'offset'] as const) {
    const { min, max, fallback } = BOUNDS[name];
    const raw = query[name];
    const value = raw === undefined ? fallback : typeof raw === 'string' && /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
    if (Number.isInteger(value) && value >= min && value <= max) page[name] = value;
    else details.push({ field: name, message: `${name} must be an integer from ${min} to ${max}` });
  }
  if (details.length > 0) throw validationFailed(details);
  return page;
}

/** The page of a list route, from its query string (400 when out of bounds). */
export const Page = createParamDecorator((_data: unknown, context: ExecutionContext): PageQuery =>
  parsePageQuery(context.switchToHttp().getRequest<{ query?: Record<string, unknown> }>().query ?? {}),
);

/** The OpenAPI side of `@Page()`. */
export const ApiPageQuery = (): MethodDecorator =>
  applyDecorators(
    ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: BOUNDS.limit.min, maximum: BOUNDS.limit.max, default: BOUNDS.limit.fallback } }),
    ApiQuery({ name: 'offset', required: false, schema: { type: 'integer', minimum: BOUNDS.offset.min, maximum: BOUNDS.offset.max, default: BOUNDS.offset.fallback } }),
  );
