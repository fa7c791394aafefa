import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiExtraModels, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { allVendors } from './vendors/registry';

const vendors = allVendors();

/** `oneOf` one schema per vendor, discriminated by `type`: derived from the registry. */
const integrationSchema = {
  oneOf: vendors.map((v) => ({ $ref: getSchemaPath(v.dto) })),
  discriminator: {
    propertyName: 'type',
    mapping: Object.fromEntries(vendors.map((v) => [v.type, getSchemaPath(v.dto)])),
  },
};

const examples = Object.fromEntries(
  vendors.map((v) => [v.type, { summary: `${v.title} (${v.description})`, value: v.example }]),
);

/** Request body of POST/PATCH: one schema per vendor, with the original page's examples. */
export function ApiIntegrationBody(description: string): MethodDecorator {
  return applyDecorators(
    ApiExtraModels(...vendors.map((v) => v.dto)),
    ApiBody({ description, schema: integrationSchema, examples }),
  );
}

export function ApiIntegrationResponse(status: number, description: string, list = false): MethodDecorator {
  return applyDecorators(
    ApiExtraModels(...vendors.map((v) => v.dto)),
    ApiResponse({ status, description, schema: list ? { type: 'array', items: integrationSchema } : integrationSchema }),
  );
}
