import { applyDecorators } from '@nestjs/common';
import { IsNotEmpty, IsString, MaxLength, ValidateIf } from 'class-validator';

/** Longest value accepted for an ordinary vendor field (user names, keys, URLs). */
export const MAX_FIELD_LENGTH = 512;
/** Longest value accepted for a secret (OAuth secrets and tokens can be long). */
export const MAX_SECRET_LENGTH = 2048;

const VENDOR_FIELDS = Symbol('integrations:vendor-fields');

/** What the registry learns about one vendor field from its decorator. */
export interface VendorFieldInfo {
  name: string;
  description: string;
  required: boolean;
  secret: boolean;
  maxLength: number;
  /** A plausible, obviously fake value for the OpenAPI document. */
  example?: string;
}

function recordField(target: object, info: VendorFieldInfo): void {
  const existing = (Reflect.getMetadata(VENDOR_FIELDS, target) as VendorFieldInfo[] | undefined) ?? [];
  Reflect.defineMetadata(VENDOR_FIELDS, [...existing, info], target);
}

export interface FieldOptions {
  description: string;
  /** A plausible, obviously fake value shown in the OpenAPI document. */
  example?: string;
  required?: boolean;
  maxLength?: number;
}

/**
 * A vendor field: a non-empty string of bounded length. The registry reads what
 * it records (src/integrations/integrations.openapi.ts turns that into the
 * OpenAPI schemas). Optional fields may be left out but never sent as `null`
 * (ValidateIf instead of IsOptional, which would let `null` through).
 */
export function VendorField(options: FieldOptions): PropertyDecorator {
  const required = options.required ?? true;
  const maxLength = options.maxLength ?? MAX_FIELD_LENGTH;
  const record: PropertyDecorator = (target, key) =>
    recordField(target, {
      name: String(key),
      description: options.description,
      required,
      secret: false,
      maxLength,
      example: options.example,
    });
  return applyDecorators(
    record,
    ...(required ? [] : [ValidateIf((_object: object, value: unknown) => value !== undefined)]),
    IsString(),
    IsNotEmpty(),
    MaxLength(maxLength),
  );
}

/**
 * A secret vendor field: validated like any field, and registered as secret so
 * it is encrypted at rest, masked on the way out, and `writeOnly` (with a fake
 * example) in the OpenAPI request schemas. The registry derives each vendor's
 * secret list from this mark.
 */
export function SecretField(options: FieldOptions): PropertyDecorator {
  const maxLength = options.maxLength ?? MAX_SECRET_LENGTH;
  return (target: object, propertyKey: string | symbol) => {
    recordField(target, {
      name: String(propertyKey),
      description: options.description,
      required: true,
      secret: true,
      maxLength,
      example: options.example ?? 'example-not-a-real-secret',
    });
    applyDecorators(IsString(), IsNotEmpty(), MaxLength(maxLength))(target, propertyKey);
  };
}

/** The fields declared with @VendorField / @SecretField on a DTO class, in declaration order. */
export function vendorFieldsOf(dto: abstract new (...args: never[]) => object): VendorFieldInfo[] {
  return [...((Reflect.getMetadata(VENDOR_FIELDS, dto.prototype as object) as VendorFieldInfo[] | undefined) ?? [])];
}
