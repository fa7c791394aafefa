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

/** GET …/verification of an integration whose current credentials were never checked. */
export class IntegrationNotVerifiedError extends DomainError {
  readonly status = 404;
  readonly code = 'NOT_VERIFIED';
  constructor(integrationId: string) {
    super(`Integration '${displayId(integrationId)}' has not been verified yet`);
  }
}

