import { ApiResponse, type SchemaObject } from '@nestjs/swagger';
import { ValidationFailedError } from '../../common/errors/domain-errors';
import { exampleOf, REQUEST_ID_EXAMPLE, responseHeaders, type ErrorExample } from '../../common/openapi';
import { SECRET_MASK } from '../wire-format';
import { NothingToRestoreError, VersionNotFoundError } from './history-errors';
import { VERSION_ACTIONS } from './integration-version.entity';
import { MAX_REVISION, revisionMessage } from './revision.pipe';

/*
 * The OpenAPI side of versions and rollback: the version schema (closed, like
 * every other), the `rev` parameter and the error cases with the messages
 * the service really sends.
 */

const ref = (name: string): SchemaObject => ({ $ref: `#/components/schemas/${name}` }) as SchemaObject;

export const VERSION_REF = ref('IntegrationVersion');
export const INTEGRATION_REF = ref('Integration');

/** `rev` in the path. */
export const REVISION_PARAM = {
  name: 'rev',
  description: 'A version of the integration: the revision a write made (the number in its ETag, "r3" → 3)',
  schema: { type: 'integer', minimum: 1, maximum: MAX_REVISION } as SchemaObject,
};

/** Component schemas of the history routes, for buildOpenApiDocument. */
export function versionSchemas(): Record<string, SchemaObject> {
  return {
    IntegrationVersion: {
      type: 'object',
      title: 'Integration version',
      description:
        "One kept version of an integration: its state after the write that made the revision, who made it and through which request. `integration` is the integration as this version holds it, in the usual wire format (secrets masked unless the route and token may reveal them); it is left out for a delete's version.",
      additionalProperties: false,
      required: ['revision', 'action', 'actor', 'request-id', 'created-at', 'restored-from', 'deleted'],
      properties: {
        revision: {
          type: 'integer',
          minimum: 1,
          maximum: MAX_REVISION,
          description: 'The version number: the revision this write made (its ETag was "r<revision>")',
        },
        action: {
          type: 'string',
          enum: [...VERSION_ACTIONS],
          description:
            'The write: create, replace (POST), patch, delete, restore, or verify (a verification taught a field, e.g. Salesforce instance)',
        },
        actor: { type: 'string', description: "The `sub` of the writer's token (an API client's id for the service's own tokens)" },
        'request-id': { type: 'string', nullable: true, description: 'The X-Request-Id of the write; null for one no request made' },
        'created-at': { type: 'string', format: 'date-time' },
        'restored-from': {
          type: 'integer',
          minimum: 1,
          maximum: MAX_REVISION,
          nullable: true,
          description: 'For a restore: the version it brought back',
        },
        deleted: { type: 'boolean', description: 'The version a delete made: no content' },
        // A bare $ref: wrapped in allOf, generators read the Integration union's discriminator as inheritance and drop `type`.
        integration: INTEGRATION_REF,
      },
    },
  };
}

const EXAMPLE_AT = '2026-11-28T10:00:00.000Z';
const twilio = (account: string) => ({ id: 'twilio', type: 'twilio', account, password: SECRET_MASK });

/** Named examples of versions, as GET answers them (secrets masked). */
export const VERSION_EXAMPLES = {
  patch: {
    summary: 'A PATCH',
    value: {
      revision: 3,
      action: 'patch',
      actor: 'svc-billing',
      'request-id': REQUEST_ID_EXAMPLE,
      'created-at': EXAMPLE_AT,
      'restored-from': null,
      deleted: false,
      integration: twilio('AC123'),
    },
  },
  delete: {
    summary: 'A delete (no content)',
    value: {
      revision: 4,
      action: 'delete',
      actor: 'ops-admin',
      'request-id': REQUEST_ID_EXAMPLE,
      'created-at': EXAMPLE_AT,
      'restored-from': null,
      deleted: true,
    },
  },
  restore: {
    summary: 'A restore of version 2',
    value: {
      revision: 5,
      action: 'restore',
      actor: 'ops-admin',
      'request-id': REQUEST_ID_EXAMPLE,
      'created-at': EXAMPLE_AT,
      'restored-from': 2,
      deleted: false,
      integration: twilio('AC-old'),
    },
  },
};

/** 200 or 201 of a restore: the restored integration with its ETag, secrets masked unless the token may reveal them. */
export function ApiRestoredResponse(status: 200 | 201, description: string): MethodDecorator {
  return ApiResponse({
    status,
    description,
    headers: responseHeaders('ETag'),
    schema: INTEGRATION_REF,
    examples: { masked: { summary: 'Secrets masked', value: twilio('AC-old') } },
  });
}

/** The error cases of the history routes. */
export const VERSION_ERRORS = {
  badRev: exampleOf(
    'malformed path rev',
    new ValidationFailedError(revisionMessage('rev'), [{ field: 'rev', message: revisionMessage('rev') }]),
  ),
  version: exampleOf('no such version', new VersionNotFoundError('twilio', 7)),
  nothingToRestore: exampleOf("a delete's version", new NothingToRestoreError('twilio', 4)),
} satisfies Record<string, ErrorExample>;

/** What 404 means on these routes. */
export const VERSION_404 =
  'Tenant does not exist or has been deleted; no such integration (never created, or deleted longer ago than HISTORY_RETENTION_DAYS); or no such version (never made, or pruned)';
