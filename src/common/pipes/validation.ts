import { ValidationPipe, type ValidationError } from '@nestjs/common';
import type { ClassTransformOptions } from 'class-transformer';
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

/** What class-transformer is told when it builds a DTO from a body: copy, never convert. */
export const TRANSFORM_OPTIONS: ClassTransformOptions = { enableImplicitConversion: false };

/** What class-validator is told: unknown fields are refused, not stripped; errors never quote values (they may be secrets). */
export const VALIDATOR_OPTIONS: ValidatorOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  validationError: { target: false, value: false },
};

/**
 * The service's ValidationPipe (APP_PIPE, after HostileInputPipe), Nest's own:
 * unknown fields are refused, not stripped, and nothing is converted
 * implicitly. Integration bodies are validated by IntegrationBodyValidator with
 * the same options (VALIDATOR_OPTIONS) and the same error format
 * (validationFailed), so every validation error looks alike.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    ...VALIDATOR_OPTIONS,
    transform: true,
    transformOptions: TRANSFORM_OPTIONS,
    exceptionFactory: (errors) => validationFailed(toDetails(errors)),
  });
}
