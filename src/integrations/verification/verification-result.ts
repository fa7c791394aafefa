import { DomainError } from '../../common/errors/domain-errors';
import { displayId } from '../../common/validation/resource-id';

/** The outcome of one credential check, as stored on the integration row. */
export interface VerificationResult {
  status: 'ok' | 'failed';
  /** Already redacted by runVerifier: never a secret. */
  message: string;
  checkedAt: Date;
}

/** On the wire, kebab-case like the rest of the API. */
export interface VerificationWire {
  status: 'ok' | 'failed';
  message: string;
  'checked-at': string;
}

export function toVerificationWire(result: VerificationResult): VerificationWire {
  return { status: result.status, message: result.message, 'checked-at': result.checkedAt.toISOString() };
}

/** GET …/verification: the last result and when the scheduler checks again. */
export interface VerificationStateWire extends VerificationWire {
  'next-check-at': string | null;
}

/** One entry of GET …/verification/history. */
export interface VerificationHistoryWire extends VerificationWire {
  revision: number;
  trigger: 'manual' | 'scheduled' | 'save';
}

/** For the OpenAPI document. */
export const VERIFICATION_SCHEMA = {
  type: 'object',
  required: ['status', 'message', 'checked-at'],
  properties: {
    status: { type: 'string', enum: ['ok', 'failed'], example: 'failed' },
    message: {
      type: 'string',
      description: "What the vendor said, in one line; secrets are masked",
      example: 'Salesforce rejected the login: invalid_grant (authentication failure), HTTP 400',
    },
    'checked-at': { type: 'string', format: 'date-time', example: '2024-12-12T09:30:00.000Z' },
  },
};

/** GET …/verification: the result and the next scheduled check. */
export const VERIFICATION_STATE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: [...VERIFICATION_SCHEMA.required, 'next-check-at'],
  properties: {
    ...VERIFICATION_SCHEMA.properties,
    'next-check-at': {
      type: 'string',
      format: 'date-time',
      nullable: true,
      description:
        "When the scheduler checks the credentials again (VERIFY_INTERVAL, or the tenant's verify-interval); null when scheduled checks are off for this tenant",
      example: '2024-12-13T08:52:10.000Z',
    },
  },
};

/** One entry of GET …/verification/history. */
export const VERIFICATION_HISTORY_ENTRY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: [...VERIFICATION_SCHEMA.required, 'revision', 'trigger'],
  properties: {
    ...VERIFICATION_SCHEMA.properties,
    revision: { type: 'integer', minimum: 1, description: 'The revision whose credentials were checked', example: 3 },
    trigger: {
      type: 'string',
      enum: ['manual', 'scheduled', 'save'],
      description: 'POST …/verify, the scheduler, or a write with VERIFY_ON_SAVE',
      example: 'scheduled',
    },
  },
};

/** GET …/verification of an integration whose current credentials were never checked. */
export class IntegrationNotVerifiedError extends DomainError {
  readonly status = 404;
  readonly code = 'NOT_VERIFIED';
  constructor(integrationId: string) {
    super(`Integration '${displayId(integrationId)}' has not been verified yet`);
  }
}

