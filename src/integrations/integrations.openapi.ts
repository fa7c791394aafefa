import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiQuery, ApiResponse } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger';
import {
  IntegrationNotFoundError,
  PreconditionFailedError,
  PreconditionRequiredError,
  TenantNotFoundError,
  UnprocessableError,
  ValidationFailedError,
} from '../common/errors/domain-errors';
import { ERR, exampleOf, responseHeaders, type ErrorExample } from '../common/openapi';
import { DataKeyVersionGoneError } from '../tenants/tenant-keys.service';
import { WriteConflictError } from './integrations.service';
import { RESOURCE_ID_PATTERN } from '../common/validation/resource-id';
import { VERIFICATION_HISTORY_ENTRY_SCHEMA, VERIFICATION_SCHEMA, VERIFICATION_STATE_SCHEMA } from './verification/verification-result';
import { allVendors, type Vendor } from './vendors/registry';
import { SECRET_MASK } from './wire-format';

/*
 * The integration schemas of the OpenAPI document, derived from the registry
 * (issue 17). A body without `type` is valid when its id names the vendor, so
 * `type` cannot be a discriminator of the request bodies: they are an `anyOf`
 * of closed per-vendor schemas (additionalProperties: false, `type` a
 * single-value enum), each branch also requiring "type given, or id equal to
 * this vendor's type, or (path form only) neither: the path id names the
 * vendor". Two vendors with the same fields (Twilio and SendGrid) may both
 * match a body: that is why it is anyOf, not oneOf. Responses always carry
 * `type`: there it is a discriminator, and the branches are exclusive.
 */

const vendors = allVendors();

const pascal = (type: string): string =>
  type
    .split(/[^A-Za-z0-9]+/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

/** Component names of one vendor's schemas. */
export const schemaNames = (vendor: Vendor) => {
  const base = `${pascal(vendor.type)}Integration`;
  return { input: `${base}Input`, inputWithId: `${base}InputWithId`, patch: `${base}Patch`, response: base };
};

const ref = (name: string): SchemaObject => ({ $ref: `#/components/schemas/${name}` }) as SchemaObject;

const ID_DESCRIPTION = 'Name of the integration inside its tenant; must equal the path id when both are given';

function typeProperty(vendor: Vendor): SchemaObject {
  return {
    type: 'string',
    enum: [vendor.type],
    description: `The vendor type. May be left out when the integration's id is "${vendor.type}": the type then defaults to the id`,
  };
}

/** The vendor's fields as a request sends them: secrets writeOnly; `nullable` for PATCH, where null clears an optional field. */
function requestFields(vendor: Vendor, patch: boolean): Record<string, SchemaObject> {
  const properties: Record<string, SchemaObject> = {};
  for (const field of vendor.fields) {
    const serverAssigned = vendor.serverAssignedFields?.includes(field.name) ?? false;
    properties[field.name] = {
      type: 'string',
      minLength: 1,
      maxLength: field.maxLength,
      description:
        field.description +
        (field.secret ? ` (secret: encrypted at rest; "${SECRET_MASK}" keeps the stored value)` : '') +
        (serverAssigned ? ' (set by the server when the credentials are verified; a value sent here is only the initial one)' : '') +
        (patch && !field.required ? '; null clears it' : ''),
      ...(field.example !== undefined ? { example: field.example } : {}),
      ...(field.secret ? { writeOnly: true, format: 'password' } : {}),
      ...(patch && !field.required ? { nullable: true } : {}),
    };
  }
  return properties;
}

/**
 * One vendor's request body. Path form (`POST …/integrations/{id}`): id
 * optional; collection form (`POST …/integrations`): id required. Which vendor
 * a body is for: its `type`, else its `id` when that is a vendor type, else
 * (path form) the path id.
 */
function inputSchema(vendor: Vendor, idRequired: boolean): SchemaObject {
  const whichVendor: SchemaObject[] = [{ required: ['type'] }, { required: ['id'], properties: { id: { enum: [vendor.type] } } }];
  if (!idRequired) whichVendor.push({ not: { anyOf: [{ required: ['id'] }, { required: ['type'] }] } });
  return {
    type: 'object',
    title: `${vendor.title} integration`,
    description:
      `${vendor.description}. The vendor of a body is its \`type\`; without one, its \`id\` when that is "${vendor.type}"` +
      (idRequired ? '.' : ', or, with neither, the id in the path.'),
    additionalProperties: false,
    required: [...(idRequired ? ['id'] : []), ...vendor.fields.filter((f) => f.required).map((f) => f.name)],
    properties: {
      id: { type: 'string', pattern: RESOURCE_ID_PATTERN.source, description: ID_DESCRIPTION, example: vendor.type },
      type: typeProperty(vendor),
      ...requestFields(vendor, false),
    },
    // Inside allOf, not beside `properties`: generators (openapi-typescript) read a sibling anyOf as alternatives to the object.
    allOf: [{ anyOf: whichVendor }],
  };
}

/** One vendor's PATCH body: every field optional; null clears an optional field, or (id) means the path id. */
function patchSchema(vendor: Vendor): SchemaObject {
  return {
    type: 'object',
    title: `${vendor.title} integration, some fields`,
    description: `Fields of a ${vendor.title} integration to change; fields left out keep their values. \`type\` cannot change.`,
    additionalProperties: false,
    properties: {
      id: {
        type: 'string',
        pattern: RESOURCE_ID_PATTERN.source,
        nullable: true,
        description: `${ID_DESCRIPTION}; null is the same as leaving it out`,
      },
      type: { type: 'string', enum: [vendor.type], description: 'The vendor type, if sent: it must be the stored one' },
      ...requestFields(vendor, true),
    },
  };
}

/** One vendor's integration as the service answers it: `id` and `type` always, secrets masked or (integrations:secrets) plaintext. */
function responseSchema(vendor: Vendor): SchemaObject {
  const properties: Record<string, SchemaObject> = {
    id: {
      type: 'string',
      pattern: RESOURCE_ID_PATTERN.source,
      description: 'Name of the integration inside its tenant',
      example: vendor.type,
    },
    type: { type: 'string', enum: [vendor.type] },
  };
  for (const field of vendor.fields) {
    properties[field.name] = {
      type: 'string',
      minLength: 1,
      maxLength: field.maxLength,
      description:
        field.description +
        (field.secret
          ? ` (secret: "${SECRET_MASK}" on reads unless the token has integrations:secrets, then the plaintext; a write echoes what it was sent)`
          : ''),
      ...(field.example !== undefined ? { example: field.example } : {}),
    };
  }
  return {
    type: 'object',
    title: `${vendor.title} integration`,
    additionalProperties: false,
    required: ['id', 'type', ...vendor.fields.filter((f) => f.required).map((f) => f.name)],
    properties,
  };
}

/** The component schemas of integrations, for buildOpenApiDocument. */
export function integrationSchemas(): Record<string, SchemaObject> {
  const schemas: Record<string, SchemaObject> = {};
  for (const vendor of vendors) {
    const names = schemaNames(vendor);
    schemas[names.input] = inputSchema(vendor, false);
    schemas[names.inputWithId] = inputSchema(vendor, true);
    schemas[names.patch] = patchSchema(vendor);
    schemas[names.response] = responseSchema(vendor);
  }
  const typeDefaults = 'A body without `type` is for the vendor its id names (`{"id": "twilio", …}` is a Twilio integration).';
  schemas.IntegrationInput = {
    description: `An integration to create or replace at the path's id, in the original flat kebab-case format. ${typeDefaults} With neither \`id\` nor \`type\`, the path id names the vendor.`,
    anyOf: vendors.map((v) => ref(schemaNames(v).input)),
  };
  schemas.IntegrationInputWithId = {
    description: `An integration to create or replace, its id in the body (the original clients' form). ${typeDefaults}`,
    anyOf: vendors.map((v) => ref(schemaNames(v).inputWithId)),
  };
  schemas.IntegrationPatch = {
    description:
      'Some fields of an integration (JSON merge patch on the flat format): fields sent replace the stored ones, null clears an optional one, `type` cannot change.',
    anyOf: vendors.map((v) => ref(schemaNames(v).patch)),
  };
  schemas.Integration = {
    description: 'An integration as the service answers it: flat, kebab-case, always with `id` and `type`.',
    oneOf: vendors.map((v) => ref(schemaNames(v).response)),
    discriminator: {
      propertyName: 'type',
      mapping: Object.fromEntries(vendors.map((v) => [v.type, `#/components/schemas/${schemaNames(v).response}`])),
    },
  };
  schemas.VerificationResult = { ...VERIFICATION_SCHEMA, additionalProperties: false };
  schemas.VerificationState = VERIFICATION_STATE_SCHEMA;
  schemas.VerificationHistoryEntry = VERIFICATION_HISTORY_ENTRY_SCHEMA;
  schemas.IntegrationType = {
    type: 'object',
    additionalProperties: false,
    required: ['type', 'title', 'description', 'secret-fields', 'required-fields', 'schema'],
    properties: {
      type: { type: 'string', enum: vendors.map((v) => v.type) },
      title: { type: 'string' },
      description: { type: 'string' },
      'secret-fields': { type: 'array', items: { type: 'string' } },
      'required-fields': { type: 'array', items: { type: 'string' } },
      schema: { type: 'object', description: "JSON Schema (draft 2020-12) of the vendor's request body", additionalProperties: true },
    },
  };
  return schemas;
}

/** The seed page's examples (and one per vendor it did not have), by vendor type. */
const requestExamples = Object.fromEntries(vendors.map((v) => [v.type, { summary: `${v.title} (${v.description})`, value: v.example }]));

/** What a write answers to the example: the same, with `type`. */
function echoOf(vendor: Vendor): Record<string, string> {
  return { id: vendor.example.id ?? vendor.type, type: vendor.type, ...vendor.example };
}

/** What a read shows of the example for a token without integrations:secrets. */
function maskedOf(vendor: Vendor): Record<string, string> {
  const wire = echoOf(vendor);
  for (const field of vendor.secretFields) if (wire[field] !== undefined) wire[field] = SECRET_MASK;
  return wire;
}

const responseExamples = (present: (vendor: Vendor) => Record<string, string>) =>
  Object.fromEntries(vendors.map((v) => [v.type, { summary: v.title, value: present(v) }]));

/** Request body of `POST …/integrations/{id}` (path form) or `POST …/integrations` (id in the body). */
export function ApiIntegrationBody(form: 'path' | 'collection'): MethodDecorator {
  return ApiBody({
    description:
      form === 'path'
        ? 'The integration in the original flat, kebab-case format. Its `id`, if sent, must equal the path id. `type` defaults to the id when the id is a vendor type.'
        : 'The integration, with its id. `type` defaults to the id when the id is a vendor type.',
    schema: ref(form === 'path' ? 'IntegrationInput' : 'IntegrationInputWithId'),
    examples: requestExamples,
  });
}

/** Request body of `PATCH …/integrations/{id}`. */
export function ApiIntegrationPatchBody(): MethodDecorator {
  return ApiBody({
    description: 'Some fields of the integration; fields left out keep their values, null clears an optional field, `type` cannot change',
    schema: ref('IntegrationPatch'),
    examples: {
      'one-field': { summary: 'Change one field', value: { username: 'ops@userevents.com' } },
      'new-secret': { summary: 'Replace a secret', value: { password: 'new-password' } },
      'clear-optional': { summary: 'Clear an optional field (Salesforce instance)', value: { instance: null } },
    },
  });
}

/** 200 of the reads: one integration (with its ETag) or the list (with X-Total-Count). */
export function ApiIntegrationResponse(status: 200 | 201, description: string, list = false): MethodDecorator {
  return ApiResponse({
    status,
    description,
    headers: list ? responseHeaders('X-Total-Count') : responseHeaders('ETag'),
    schema: list ? { type: 'array', items: ref('Integration') } : ref('Integration'),
    examples: list
      ? { masked: { summary: 'Secrets masked', value: vendors.map(maskedOf) } }
      : responseExamples(status === 201 ? echoOf : maskedOf),
  });
}

/**
 * 200 of the POST routes: the replaced integration (with its ETag) or, with
 * `?dry-run=true`, the verification result (issue 6). Together with the
 * `dry-run` query parameter.
 */
export function ApiReplacedOrDryRun(): MethodDecorator {
  return applyDecorators(
    ApiQuery({
      name: 'dry-run',
      required: false,
      // No `default`: Swagger UI would then send ?dry-run=false with every try-it-out.
      schema: { type: 'string', enum: ['true', 'false', '1', '0'] },
      description:
        'true (or 1): validate the body and verify its credentials against the vendor (secrets sent as "********" use the stored ones), ' +
        'store nothing, and answer 200 with the verification result. Left out, false or 0: an ordinary write',
    }),
    ApiResponse({
      status: 200,
      description: 'Replaced (the body echoes what was sent, with an ETag); with ?dry-run=true, the verification result instead (no ETag)',
      headers: responseHeaders('ETag?'),
      schema: { oneOf: [ref('Integration'), ref('VerificationResult')] },
      examples: {
        ...responseExamples(echoOf),
        'dry-run': {
          summary: 'With ?dry-run=true',
          value: {
            status: 'failed',
            message: 'Twilio rejected the credentials: Authenticate (code 20003), HTTP 401',
            'checked-at': '2026-11-28T10:00:00.000Z',
          },
        },
      },
    }),
  );
}

export const VERIFICATION_REF = ref('VerificationResult');
export const VERIFICATION_STATE_REF = ref('VerificationState');
export const VERIFICATION_HISTORY_ENTRY_REF = ref('VerificationHistoryEntry');
export const INTEGRATION_TYPE_REF = ref('IntegrationType');

/** The error cases of these routes, with the messages the service really sends. */
export const INTEGRATION_ERRORS = {
  badIid: ERR.badPathId('iid'),
  badId: ERR.badPathId('id'),
  read: ERR.lacksScope('integrations:read'),
  write: ERR.lacksScope('integrations:write'),
  tenant: exampleOf('no such tenant', new TenantNotFoundError('acme')),
  integration: exampleOf('no such integration', new IntegrationNotFoundError('acme', 'twilio')),
  unknownField: exampleOf(
    'unknown field',
    new ValidationFailedError('Validation failed (unknown field: color)', [{ field: 'color', message: 'property color should not exist' }]),
  ),
  missingField: exampleOf(
    'missing field',
    new ValidationFailedError('Validation failed (missing or invalid: password)', [
      { field: 'password', message: 'password should not be empty; password must be a string' },
    ]),
  ),
  typeRequired: exampleOf(
    'type required',
    new ValidationFailedError(
      'type is required because id "salesforce-eu" is not a vendor type; known types: salesforce, twilio, sendgrid, datasift, pusher, urban-airship',
      [
        {
          field: 'type',
          message:
            'type is required because id "salesforce-eu" is not a vendor type; known types: salesforce, twilio, sendgrid, datasift, pusher, urban-airship',
        },
      ],
    ),
  ),
  idMismatch: exampleOf(
    'id mismatch',
    new ValidationFailedError('Body id "sendgrid" does not match the id in the path "twilio"', [
      { field: 'id', message: 'Body id "sendgrid" does not match the id in the path "twilio"' },
    ]),
  ),
  typeChange: exampleOf(
    'type cannot change',
    new ValidationFailedError("type cannot change (this integration is 'salesforce'); delete it and create a new one", [
      { field: 'type', message: "type cannot change (this integration is 'salesforce'); delete it and create a new one" },
    ]),
  ),
  dryRunFlag: exampleOf(
    'dry-run neither true nor false',
    new ValidationFailedError('dry-run must be true or false', [{ field: 'dry-run', message: 'dry-run must be true or false' }]),
  ),
  conflict: exampleOf('lost every retry to other writes', new WriteConflictError()),
  stale: exampleOf(
    'stale If-Match',
    new PreconditionFailedError('If-Match does not match the current version; read the integration again and retry'),
  ),
  ifMatchRequired: exampleOf(
    'If-Match missing',
    new PreconditionRequiredError('If-Match is required: send the ETag of your last read of this integration'),
  ),
  vendorRefused: exampleOf(
    'vendor refused the credentials',
    new UnprocessableError('Twilio rejected the credentials: Authenticate (code 20003), HTTP 401'),
  ),
  keyRotated: exampleOf('data key replaced during the read', new DataKeyVersionGoneError('acme', 3)),
} satisfies Record<string, ErrorExample>;

/** What every integration write can also answer. */
export const WRITE_ERRORS = {
  403: [INTEGRATION_ERRORS.write, ERR.foreignTenant],
  409: [INTEGRATION_ERRORS.conflict],
  412: [INTEGRATION_ERRORS.stale],
  413: [ERR.tooLarge],
  415: [ERR.notJson],
  422: [INTEGRATION_ERRORS.vendorRefused],
  428: [INTEGRATION_ERRORS.ifMatchRequired],
  500: [ERR.secretUnreadable],
  503: [INTEGRATION_ERRORS.keyRotated],
} as const;

/** 503 on routes that read secrets: the database, a data key replaced during the read, or the audit trail. */
export const SECRET_READ_503 = {
  audited: 'secret-read' as const,
  descriptions: {
    503: 'The database is unreachable, (KEY_ROTATED) a data key changed during the read, or (AUDIT_UNAVAILABLE) the read of a secret could not be recorded, so no secret was sent; retry after Retry-After seconds',
  },
};

/** 503 on routes that change an integration: the database, a data key replaced during the write, or the audit trail. */
export const CHANGE_503 = {
  audited: 'change' as const,
  descriptions: {
    503: 'The database is unreachable, (KEY_ROTATED) a data key changed during the write, or (AUDIT_UNAVAILABLE) the change could not be recorded, so it was not made; retry after Retry-After seconds',
  },
};
