import { displayId } from '../validation/resource-id';

/**
 * Errors the services throw. Each has a stable `code` and its HTTP status; the
 * global filter is the one place that turns them into `{"error", "code", …}`.
 * Messages are written for the client and never carry a secret.
 */
export interface ErrorDetail {
  field: string;
  message: string;
}

export abstract class DomainError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
  /** Extra response headers (Retry-After, …). */
  readonly headers: Record<string, string> = {};

  constructor(
    message: string,
    readonly details?: ErrorDetail[],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationFailedError extends DomainError {
  readonly status = 400;
  readonly code = 'VALIDATION_FAILED';
}

export class UnauthenticatedError extends DomainError {
  readonly status = 401;
  readonly code = 'UNAUTHENTICATED';
  override readonly headers = { 'WWW-Authenticate': 'Bearer' };
}

export class ForbiddenError extends DomainError {
  readonly status = 403;
  readonly code = 'FORBIDDEN';
}

export class TenantNotFoundError extends DomainError {
  readonly status = 404;
  readonly code = 'TENANT_NOT_FOUND';
  constructor(tenantId: string) {
    super(`Tenant '${displayId(tenantId)}' does not exist or has been deleted`);
  }
}

export class IntegrationNotFoundError extends DomainError {
  readonly status = 404;
  readonly code = 'INTEGRATION_NOT_FOUND';
  constructor(tenantId: string, integrationId: string) {
    super(`Integration '${displayId(integrationId)}' does not exist in tenant '${displayId(tenantId)}'`);
  }
}

export class TenantAlreadyExistsError extends DomainError {
  readonly status = 409;
  readonly code = 'TENANT_EXISTS';
  constructor(tenantId: string, deleted: boolean) {
    super(
      deleted
        ? `Tenant '${tenantId}' existed and was deleted; its id cannot be reused`
        : `Tenant '${tenantId}' already exists`,
    );
  }
}

export class PreconditionFailedError extends DomainError {
  readonly status = 412;
  readonly code = 'PRECONDITION_FAILED';
}

export class PreconditionRequiredError extends DomainError {
  readonly status = 428;
  readonly code = 'PRECONDITION_REQUIRED';
}

export class RateLimitedError extends DomainError {
  readonly status = 429;
  readonly code = 'RATE_LIMITED';
  override readonly headers: Record<string, string>;
  constructor(retryAfterSeconds: number) {
    super(`Rate limit reached; retry after ${retryAfterSeconds} s`);
    this.headers = { 'Retry-After': String(retryAfterSeconds) };
  }
}

export class UnprocessableError extends DomainError {
  readonly status = 422;
  readonly code = 'UNPROCESSABLE';
}

export class DatabaseUnavailableError extends DomainError {
  readonly status = 503;
  readonly code = 'DATABASE_UNAVAILABLE';
  override readonly headers = { 'Retry-After': '5' };
  constructor() {
    super('The database is unreachable; retry shortly');
  }
}

/**
 * A transaction lost to concurrent writes on every attempt (an InnoDB deadlock
 * victim, or on Galera a certification failure against a write committed on
 * another node): nothing of it landed, and the same request sent again a
 * moment later goes through. Never a 500: concurrency is not a server fault.
 */
export class DatabaseBusyError extends DomainError {
  readonly status = 503;
  readonly code = 'DATABASE_BUSY';
  override readonly headers = { 'Retry-After': '1' };
  constructor() {
    super('The write kept conflicting with concurrent writes and was not applied; retry it');
  }
}

/**
 * A stored secret failed authentication: wrong key, or a ciphertext moved from
 * another row. The client gets a 500 that says only this; never data.
 */
export class SecretUnreadableError extends DomainError {
  readonly status = 500;
  readonly code = 'SECRET_UNREADABLE';
  constructor(tenantId: string, integrationId: string) {
    super(`A stored secret of integration '${integrationId}' in tenant '${tenantId}' could not be decrypted; an operator must re-enter it`);
  }
}

/** The error codes of RFC 6749 §5.2 that the token endpoint answers with. */
export type OAuthErrorCode = 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unsupported_grant_type' | 'invalid_scope';

/**
 * An error of the token endpoint (issue 13), answered as RFC 6749 §5.2 says:
 * `{"error": "invalid_client", "error_description": "…"}`, which is also the
 * original API's own `{"error"}` map. invalid_client is a 401 with
 * `WWW-Authenticate: Basic` (§5.2: the client may retry with HTTP Basic);
 * the others are 400s.
 */
export class OAuthError extends DomainError {
  readonly status: number;
  override readonly headers: Record<string, string>;

  constructor(
    readonly code: OAuthErrorCode,
    description: string,
  ) {
    super(description);
    this.status = code === 'invalid_client' ? 401 : 400;
    this.headers = code === 'invalid_client' ? { 'WWW-Authenticate': 'Basic' } : {};
  }
}

export class ApiClientNotFoundError extends DomainError {
  readonly status = 404;
  readonly code = 'API_CLIENT_NOT_FOUND';
  constructor(tenantId: string, clientId: string) {
    super(`API client '${displayId(clientId)}' does not exist in tenant '${displayId(tenantId)}'`);
  }
}

/** What AuditUnavailableError says, by what did not happen. */
export const AUDIT_UNAVAILABLE_MESSAGES = {
  change: 'The audit trail cannot be written, so this change was not made; retry shortly',
  secretRead: 'The audit trail cannot be written, so the secret is not sent; retry shortly',
  read: 'The audit trail cannot be written, so it is not read either; retry shortly',
  check: 'The audit trail cannot be written, so this check is not reported; retry shortly',
} as const;

/**
 * The audit trail could not be written, so what needed an event did not
 * happen (Vault's rule): a change was not made, a plaintext secret was not
 * sent. The cause is logged for operators; the client is told to retry.
 */
export class AuditUnavailableError extends DomainError {
  readonly status = 503;
  readonly code = 'AUDIT_UNAVAILABLE';
  override readonly headers = { 'Retry-After': '5' };
}

export class WebhookNotFoundError extends DomainError {
  readonly status = 404;
  readonly code = 'WEBHOOK_NOT_FOUND';
  constructor(tenantId: string, webhookId: string) {
    super(`Webhook '${displayId(webhookId)}' does not exist in tenant '${displayId(tenantId)}'`);
  }
}

export class WebhookDeliveryNotFoundError extends DomainError {
  readonly status = 404;
  readonly code = 'WEBHOOK_DELIVERY_NOT_FOUND';
  constructor(webhookId: string, deliveryId: string) {
    super(`Delivery '${displayId(deliveryId)}' does not exist for webhook '${displayId(webhookId)}'`);
  }
}
