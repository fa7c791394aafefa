import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
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
 * A vendor field: a non-empty string of bounded length, documented in OpenAPI.
 * Optional fields may be left out but never sent as `null` (ValidateIf instead
 * of IsOptional, which would let `null` through).
 */
export function VendorField(options: FieldOptions): PropertyDecorator {
  const required = options.required ?? true;
  const maxLength = options.maxLength ?? MAX_FIELD_LENGTH;
  const record: PropertyDecorator = (target, key) =>
    recordField(target, { name: String(key), description: options.description, required, secret: false, maxLength });
  return applyDecorators(
    record,
    ...(required ? [] : [ValidateIf((_object: object, value: unknown) => value !== undefined)]),
    IsString(),
    IsNotEmpty(),
    MaxLength(maxLength),
    ApiProperty({
      type: String,
      required,
      description: options.description,
      example: options.example,
      maxLength,
      minLength: 1,
    }),
  );
}

/**
 * A secret vendor field: validated like any field, `writeOnly` in OpenAPI with a
 * fake example, and registered as secret so it is encrypted at rest and masked
 * on the way out. The registry derives each vendor's secret list from this mark.
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
    });
    applyDecorators(
      IsString(),
      IsNotEmpty(),
      MaxLength(maxLength),
      ApiProperty({
        type: String,
        required: true,
        writeOnly: true,
        format: 'password',
        description: `${options.description} (secret: encrypted at rest, masked as "********" on reads)`,
        example: options.example ?? 'example-not-a-real-secret',
        maxLength,
        minLength: 1,
      }),
    )(target, propertyKey);
  };
}

/** The fields declared with @VendorField / @SecretField on a DTO class, in declaration order. */
export function vendorFieldsOf(dto: abstract new (...args: never[]) => object): VendorFieldInfo[] {
  return [...((Reflect.getMetadata(VENDOR_FIELDS, dto.prototype as object) as VendorFieldInfo[] | undefined) ?? [])];
}
