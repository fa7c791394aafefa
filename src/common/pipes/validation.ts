import { ValidationPipe, type ValidationError } from '@nestjs/common';
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

/**
 * The one ValidationPipe of the service (APP_PIPE), also reused by the
 * discriminated-body pipe so every validation error looks alike: unknown fields
 * are refused, not stripped, and nothing is converted implicitly.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => validationFailed(toDetails(errors)),
  });
}
