import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiExtraModels, ApiQuery, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { VERIFICATION_SCHEMA } from './verification/verification-result';
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

/**
 * 200 of the POST routes: the replaced integration or, with `?dry-run=true`, the
 * verification result (issue 6). Together with the `dry-run` query parameter.
 */
export function ApiReplacedOrDryRun(): MethodDecorator {
  return applyDecorators(
    ApiExtraModels(...vendors.map((v) => v.dto)),
    ApiQuery({
      name: 'dry-run',
      required: false,
      type: Boolean,
      description:
        'true: validate the body and verify its credentials against the vendor (secrets sent as "********" use the stored ones), ' +
        'store nothing, and answer 200 with the verification result',
    }),
    ApiResponse({
      status: 200,
      description: 'Replaced (the body echoes what was sent); with ?dry-run=true, the verification result instead',
      schema: { oneOf: [integrationSchema, VERIFICATION_SCHEMA] },
    }),
  );
}
