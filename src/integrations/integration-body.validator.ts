import { Injectable } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { ValidationFailedError } from '../common/errors/domain-errors';
import { toDetails, TRANSFORM_OPTIONS, validationFailed, VALIDATOR_OPTIONS } from '../common/pipes/validation';
import { isResourceId } from '../common/validation/resource-id';
import { findVendor, VENDOR_TYPES, type Vendor } from './vendors/registry';
import { SECRET_MASK } from './wire-format';

/** A request body that passed its vendor's validation. */
export interface IntegrationInput {
  id: string;
  vendor: Vendor;
  /** The vendor fields sent (secrets in plaintext, or the mask). */
  fields: Record<string, string>;
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * PATCH semantics (JSON merge patch, RFC 7396, on the flat wire format): fields
 * sent replace the stored ones; null clears one of the vendor's fields (id and
 * type keep theirs); on an unknown field null stays, so validation names it; a
 * secret sent as the mask keeps what `stored` holds for it. Used by the write
 * and by VERIFY_ON_SAVE's check, so both see the same integration.
 */
export function applyPatch(stored: Readonly<Record<string, unknown>>, body: Readonly<Record<string, unknown>>, vendor: Vendor): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...stored };
  for (const [field, value] of Object.entries(body)) {
    if (value === null && (vendor.fieldNames.has(field) || field === 'id' || field === 'type')) delete merged[field];
    else if (value === SECRET_MASK && vendor.secretFields.has(field) && merged[field] !== undefined) continue;
    else merged[field] = value;
  }
  return merged;
}

/** A client value quoted in a message: bounded, JSON-escaped. */
function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

function invalid(field: string, message: string): ValidationFailedError {
  return new ValidationFailedError(message, [{ field, message }]);
}

/**
 * The discriminated body, as cal.com's create-event-type-input.pipe.ts does it:
 * picks the vendor's DTO class from `type` (or from `id` when it is a vendor
 * type, as the original Twilio example relies on; the registry's map, built
 * once), turns the body into an instance of that class with class-transformer
 * and validates it with class-validator, with the options and error format of
 * the service's ValidationPipe, so every validation error has the same shape.
 * The DTO decorators are the only statement of the rules.
 *
 * The body must have passed HostileInputPipe (IntegrationBodyPipe runs it; a
 * PATCH body gets it as a `@Body()`): class-transformer silently skips
 * prototype keys and throws on a nested `constructor`.
 */
@Injectable()
export class IntegrationBodyValidator {
  async validate(body: unknown, pathId: string | undefined): Promise<IntegrationInput> {
    if (!isJsonObject(body)) throw invalid('body', 'Request body must be a JSON object');
    if (body.id !== undefined && pathId !== undefined && body.id !== pathId) {
      throw invalid('id', `Body id ${quote(body.id)} does not match the id in the path ${quote(pathId)}`);
    }
    const id = body.id ?? pathId;
    if (id === undefined) throw invalid('id', 'id is required (in the body, or in the path)');
    if (!isResourceId(id)) throw invalid('id', 'id must be 1-64 characters of letters, digits, ".", "_" or "-"');

    const type = body.type ?? (findVendor(id) ? id : undefined);
    if (type === undefined) {
      throw invalid('type', `type is required because id ${quote(id)} is not a vendor type; known types: ${VENDOR_TYPES.join(', ')}`);
    }
    const vendor = typeof type === 'string' ? findVendor(type) : undefined;
    if (vendor === undefined) throw invalid('type', `Unknown type ${quote(type)}; known types: ${VENDOR_TYPES.join(', ')}`);

    const dto = plainToInstance(vendor.dto, body, TRANSFORM_OPTIONS) as unknown as Record<string, unknown>;
    const errors = validateSync(dto, VALIDATOR_OPTIONS);
    if (errors.length > 0) throw validationFailed(toDetails(errors));
    const fields: Record<string, string> = {};
    for (const field of vendor.fields) {
      const value = dto[field.name];
      if (typeof value === 'string') fields[field.name] = value;
    }
    return { id, vendor, fields };
  }
}
