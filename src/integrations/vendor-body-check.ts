import { isNotEmpty, isString, matches, maxLength } from 'class-validator';
import type { ErrorDetail } from '../common/errors/domain-errors';
import { RESOURCE_ID_MESSAGE, RESOURCE_ID_PATTERN } from '../common/validation/resource-id';
import { MAX_ID_LENGTH } from './vendors/integration-base.dto';
import type { Vendor } from './vendors/registry';

/**
 * The checks that class-validator makes of a vendor body (its DTO's decorators
 * with the service's validator options), made directly from what the registry
 * already knows about each field: the same rules through class-validator's own
 * predicates, the same messages, in the same order. Running class-validator
 * itself on every write costs about 30 µs and 10 KB of garbage per request in
 * metadata lookups; these bodies are flat strings and need none of it.
 *
 * The decorators stay the source of truth (the registry and the OpenAPI
 * document read them). vendor-body-check.spec.ts runs both on a table of bodies
 * for every vendor and fails when they disagree, so a rule changed on a DTO
 * and not here shows up as a failing case.
 *
 * The body must already have passed refuseWhatNoDtoAccepts (prototype keys,
 * depth, lone surrogates).
 */
export function vendorBodyProblems(vendor: Vendor, body: Readonly<Record<string, unknown>>): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  // whitelist + forbidNonWhitelisted: unknown properties come first, in the body's order.
  for (const key of Object.keys(body)) {
    if (!vendor.fieldNames.has(key) && key !== 'id' && key !== 'type') details.push({ field: key, message: `property ${key} should not exist` });
  }
  // The vendor's own fields (@VendorField / @SecretField: IsString, IsNotEmpty, MaxLength; optional ones only when present).
  for (const field of vendor.fields) {
    const value = body[field.name];
    if (!field.required && value === undefined) continue;
    const messages: string[] = [];
    if (!isString(value)) messages.push(`${field.name} must be a string`);
    if (!isNotEmpty(value)) messages.push(`${field.name} should not be empty`);
    if (!maxLength(value, field.maxLength)) messages.push(`${field.name} must be shorter than or equal to ${field.maxLength} characters`);
    if (messages.length > 0) details.push({ field: field.name, message: messages.join('; ') });
  }
  // Then the inherited IntegrationBaseDto fields, whose decorators run bottom-up (Matches, MaxLength, IsString).
  if (body.id !== undefined) {
    const messages: string[] = [];
    if (!matches(body.id as string, RESOURCE_ID_PATTERN)) messages.push(RESOURCE_ID_MESSAGE.replace('$property', 'id'));
    if (!maxLength(body.id, MAX_ID_LENGTH)) messages.push(`id must be shorter than or equal to ${MAX_ID_LENGTH} characters`);
    if (!isString(body.id)) messages.push('id must be a string');
    if (messages.length > 0) details.push({ field: 'id', message: messages.join('; ') });
  }
  if (body.type !== undefined && !isString(body.type)) details.push({ field: 'type', message: 'type must be a string' });
  return details;
}
