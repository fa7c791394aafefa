import { vendorFieldsOf, type VendorFieldInfo } from '../../common/validation/field-decorators';
import { datasiftVendor } from './datasift.vendor';
import { pusherVendor } from './pusher.vendor';
import { salesforceVendor } from './salesforce.vendor';
import { sendgridVendor } from './sendgrid.vendor';
import { twilioVendor } from './twilio.vendor';
import { urbanAirshipVendor } from './urban-airship.vendor';
import type { VendorDefinition } from './vendor-definition';

/**
 * Every vendor the service knows, type → definition. Adding a vendor is one file
 * in this folder and one line here; everything else derives from this list.
 */
export const VENDORS: readonly VendorDefinition[] = [
  salesforceVendor,
  twilioVendor,
  sendgridVendor,
  datasiftVendor,
  pusherVendor,
  urbanAirshipVendor,
];

/** A vendor with what its decorators say about its fields, computed once. */
export interface Vendor extends VendorDefinition {
  readonly fields: readonly VendorFieldInfo[];
  readonly secretFields: ReadonlySet<string>;
  readonly fieldNames: ReadonlySet<string>;
}

const byType = new Map<string, Vendor>(
  VENDORS.map((definition) => {
    const fields = vendorFieldsOf(definition.dto);
    const vendor: Vendor = {
      ...definition,
      fields,
      secretFields: new Set(fields.filter((f) => f.secret).map((f) => f.name)),
      fieldNames: new Set(fields.map((f) => f.name)),
    };
    return [definition.type, vendor];
  }),
);

export const VENDOR_TYPES: readonly string[] = VENDORS.map((v) => v.type);

export function findVendor(type: string): Vendor | undefined {
  return byType.get(type);
}

export function allVendors(): Vendor[] {
  return [...byType.values()];
}

/** JSON Schema (draft 2020-12 subset) of a vendor's request body, for `/integration-types`. */
export function jsonSchemaOf(vendor: Vendor): Record<string, unknown> {
  const properties: Record<string, unknown> = {
    id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
    type: { type: 'string', const: vendor.type },
  };
  for (const field of vendor.fields) {
    properties[field.name] = {
      type: 'string',
      minLength: 1,
      maxLength: field.maxLength,
      description: field.description,
      ...(field.secret ? { writeOnly: true } : {}),
      ...(vendor.serverAssignedFields?.includes(field.name) ? { 'x-server-assigned': true } : {}),
    };
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: vendor.title,
    type: 'object',
    properties,
    required: vendor.fields.filter((f) => f.required).map((f) => f.name),
    additionalProperties: false,
  };
}
