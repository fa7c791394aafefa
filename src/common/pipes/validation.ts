import { type ArgumentMetadata, ValidationPipe, type ValidationError } from '@nestjs/common';
import type { ValidatorOptions } from 'class-validator';
import { ValidationFailedError, type ErrorDetail } from '../errors/domain-errors';

/** One entry per invalid field, its messages joined. Values are never quoted (they may be secrets). */
export function toDetails(errors: ValidationError[], parent = ''): ErrorDetail[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = error.constraints ? [{ field, message: Object.values(error.constraints).join('; ') }] : [];
    return [...own, ...toDetails(error.children ?? [], field)];
  });
}

export function validationFailed(details: ErrorDetail[]): ValidationFailedError {
  const unknown = details.filter((d) => d.message.includes('should not exist')).map((d) => d.field);
  const missing = details.filter((d) => /should not be empty|must be a string/.test(d.message)).map((d) => d.field);
  const parts = [
    unknown.length ? `unknown field${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}` : '',
    missing.length ? `missing or invalid: ${missing.join(', ')}` : '',
  ].filter(Boolean);
  const summary = parts.length ? parts.join('; ') : details.map((d) => d.field).join(', ');
  return new ValidationFailedError(`Validation failed (${summary})`, details);
}

/** Deeper bodies are refused before any recursive code (Nest's key stripping, class-transformer) walks them. */
const MAX_BODY_DEPTH = 32;
/** A UTF-16 surrogate without its other half: JSON lets `"\ud800"` through, UTF-8 storage cannot keep it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * What no DTO can make valid, found without recursion (a hostile depth must not
 * overflow the stack): nesting deeper than MAX_BODY_DEPTH, and strings that are
 * not Unicode text, which the database or the cipher would silently turn into
 * U+FFFD, so a 2xx would store something else than what was sent.
 */
function bodyProblems(body: object): ErrorDetail[] {
  const stack: [unknown, number, string][] = [[body, 0, 'body']];
  while (stack.length > 0) {
    const [node, depth, field] = stack.pop()!;
    if (typeof node === 'string') {
      if (LONE_SURROGATE.test(node)) return [{ field, message: 'must be valid Unicode text (it holds a lone surrogate)' }];
      continue;
    }
    if (typeof node !== 'object' || node === null) continue;
    if (depth >= MAX_BODY_DEPTH) return [{ field: 'body', message: `nests deeper than ${MAX_BODY_DEPTH} levels` }];
    for (const [key, child] of Object.entries(node)) {
      if (LONE_SURROGATE.test(key)) return [{ field: 'body', message: 'keys must be valid Unicode text' }];
      stack.push([child, depth + 1, depth === 0 && !Array.isArray(node) ? key : field]);
    }
  }
  return [];
}

/**
 * Nest's ValidationPipe and class-transformer drop, without a word, body keys
 * that name something every object has (`constructor`, `prototype`,
 * `__proto__`, `toString`, `valueOf`…), so the whitelist never sees them and
 * `{"toString": 1}` would pass as valid. They are unknown fields like any
 * other: refuse them the same way. Both also recurse into the body, so the
 * body is checked for what no DTO can accept first (a 400, not a stack overflow's 500).
 */
class StrictValidationPipe extends ValidationPipe {
  // Not `async`: most parameters (path strings, the principal, custom decorators) have
  // no DTO to validate, and answering them synchronously spares every request two
  // promises per parameter. Nest awaits whatever a pipe returns (PipeTransform's
  // transform returns `any`; the cast below only satisfies ValidationPipe's narrower
  // declaration), and a throw here reaches the exception filter like a rejection.
  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && typeof value === 'object' && value !== null) refuseWhatNoDtoAccepts(value);
    if (!metadata.metatype || !this.toValidate(metadata)) return this.transformPrimitive(value, metadata) as Promise<unknown>;
    return super.transform(value, metadata);
  }
}

/** Throws the 400 for what no DTO accepts: see bodyProblems, and keys every object has. */
export function refuseWhatNoDtoAccepts(body: object): void {
  const problems = bodyProblems(body);
  if (problems.length > 0) throw validationFailed(problems);
  if (!Array.isArray(body)) {
    const dropped = Object.keys(body).filter((key) => key in Object.prototype || key === 'prototype');
    if (dropped.length > 0) throw validationFailed(dropped.map((field) => ({ field, message: `property ${field} should not exist` })));
  }
}

/** What the pipe hands class-validator: unknown fields are refused, not stripped. */
export const VALIDATOR_OPTIONS: ValidatorOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  validationError: { target: false, value: false },
};

/**
 * The one ValidationPipe of the service (APP_PIPE): unknown fields are
 * refused, not stripped, and nothing is converted implicitly. Integration
 * bodies are checked by vendorBodyProblems with the same options' rules and
 * the same error format (validationFailed), so every validation error looks alike.
 */
export function createValidationPipe(): ValidationPipe {
  return new StrictValidationPipe({
    ...VALIDATOR_OPTIONS,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    exceptionFactory: (errors) => validationFailed(toDetails(errors)),
  });
}
