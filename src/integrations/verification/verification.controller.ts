import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ActsOnTenant, RequireScope } from '../../auth/auth.decorators';
import { Scope } from '../../auth/scopes';
import {
  AUDIT_UNAVAILABLE_MESSAGES,
  AuditUnavailableError,
  IntegrationNotFoundError,
  TenantNotFoundError,
} from '../../common/errors/domain-errors';
import { ApiErrors, ERR, exampleOf, ID_SCHEMA, responseHeaders, type ErrorExample } from '../../common/openapi';
import { Actor, type RequestActor } from '../../common/request-actor';
import { DataKeyVersionGoneError } from '../../tenants/tenant-keys.service';
import { VERIFICATION_HISTORY_ENTRY_REF, VERIFICATION_REF, VERIFICATION_STATE_REF } from '../integrations.openapi';
import { ResourceIdPipe } from '../../common/pipes/resource-id.pipe';
import {
  IntegrationNotVerifiedError,
  toVerificationWire,
  type VerificationHistoryWire,
  type VerificationStateWire,
  type VerificationWire,
} from './verification-result';
import { VerificationService } from './verification.service';

const E = {
  tenant: exampleOf('no such tenant', new TenantNotFoundError('acme')),
  integration: exampleOf('no such integration', new IntegrationNotFoundError('acme', 'twilio')),
  keyRotated: exampleOf('data key replaced during the read', new DataKeyVersionGoneError('acme', 3)),
  auditUnavailable: exampleOf('audit trail unwritable', new AuditUnavailableError(AUDIT_UNAVAILABLE_MESSAGES.check)),
} satisfies Record<string, ErrorExample>;

const RESULT_EXAMPLES = {
  ok: {
    summary: 'Accepted',
    value: { status: 'ok', message: 'Twilio account "Acme" (AC123) is active', 'checked-at': '2026-11-28T10:00:00.000Z' },
  },
  failed: {
    summary: 'Refused',
    value: {
      status: 'failed',
      message: 'Salesforce rejected the login: invalid_grant (authentication failure), HTTP 400',
      'checked-at': '2026-11-28T10:00:00.000Z',
    },
  },
};

const STATE_EXAMPLES = {
  scheduled: {
    summary: 'Checked, next check scheduled',
    value: { ...RESULT_EXAMPLES.ok.value, 'next-check-at': '2026-11-29T08:41:12.000Z' },
  },
  failed: {
    summary: 'Refused, next check scheduled',
    value: { ...RESULT_EXAMPLES.failed.value, 'next-check-at': '2026-11-29T09:12:40.000Z' },
  },
  off: {
    summary: 'Scheduled checks off for this tenant',
    value: { ...RESULT_EXAMPLES.ok.value, 'next-check-at': null },
  },
};

const HISTORY_EXAMPLE = [
  {
    status: 'ok',
    message: 'Twilio account "Acme" (AC123) is active',
    'checked-at': '2026-11-29T08:41:12.000Z',
    revision: 3,
    trigger: 'scheduled',
  },
  {
    status: 'failed',
    message: 'Twilio rejected the credentials: Authenticate (code 20003), HTTP 401',
    'checked-at': '2026-11-28T10:00:00.000Z',
    revision: 2,
    trigger: 'manual',
  },
];

@ApiTags('integrations')
@ApiBearerAuth()
@ApiParam({ name: 'iid', description: 'Tenant id', schema: ID_SCHEMA })
@ApiParam({ name: 'id', description: 'Integration id', schema: ID_SCHEMA })
@Controller('tenants/:iid/integrations/:id')
@ActsOnTenant('iid')
export class VerificationController {
  constructor(private readonly verification: VerificationService) {}

  @Post('verify')
  @HttpCode(200)
  @RequireScope(Scope.IntegrationsWrite)
  @ApiOperation({
    summary: 'Check the stored credentials against the vendor',
    description:
      'Calls the vendor with the stored credentials (Salesforce OAuth password login, Twilio account fetch, SendGrid user profile, ' +
      'DataSift usage, Pusher channel list, Urban Airship channel list) and keeps the result. 200 whether the vendor accepts them or not; ' +
      'a vendor that does not answer within VERIFY_TIMEOUT_MS gives status "failed". On success Salesforce\'s instance URL becomes the ' +
      "integration's `instance` (a new revision). Secrets never appear in the message.",
  })
  @ApiResponse({
    status: 200,
    description: 'The result: ok or failed, with the reason',
    schema: VERIFICATION_REF,
    headers: responseHeaders(),
    examples: RESULT_EXAMPLES,
  })
  @ApiErrors(
    {
      400: [ERR.badPathId('iid'), ERR.badUrl, ERR.badPathId('id'), ERR.malformedJson],
      403: [ERR.lacksScope('integrations:write'), ERR.foreignTenant],
      404: [E.tenant, E.integration],
      413: [ERR.tooLarge],
      415: [ERR.notJson],
      500: [ERR.secretUnreadable],
      503: [E.keyRotated, E.auditUnavailable],
    },
    {
      descriptions: {
        503: 'The database is unreachable, (KEY_ROTATED) a data key changed during the read, or (AUDIT_UNAVAILABLE) the check could not be recorded, so its result is neither kept nor reported; retry after Retry-After seconds',
      },
    },
  )
  async verify(
    @Param('iid') iid: string,
    @Param('id', ResourceIdPipe) id: string,
    @Actor() actor: RequestActor,
  ): Promise<VerificationWire> {
    return toVerificationWire(await this.verification.verifyStored(iid, id, actor));
  }

  @Get('verification')
  @RequireScope(Scope.IntegrationsRead)
  @ApiOperation({
    summary: 'The last verification result, and when the next scheduled check is due',
    description:
      'Kept until the credentials change: a POST or PATCH of the integration clears it (or, with VERIFY_ON_SAVE, replaces it). ' +
      "`next-check-at` is when the scheduler checks again (VERIFY_INTERVAL, or the tenant's `verify-interval`, less up to VERIFY_JITTER of it); " +
      'null when scheduled checks are off for this tenant.',
  })
  @ApiResponse({
    status: 200,
    description: 'The last result and the next scheduled check',
    schema: VERIFICATION_STATE_REF,
    headers: responseHeaders(),
    examples: STATE_EXAMPLES,
  })
  @ApiErrors({
    400: [ERR.badPathId('iid'), ERR.badUrl, ERR.badPathId('id')],
    403: [ERR.lacksScope('integrations:read'), ERR.foreignTenant],
    404: [E.tenant, E.integration, exampleOf('never verified, or changed since', new IntegrationNotVerifiedError('twilio'))],
  })
  async last(@Param('iid') iid: string, @Param('id', ResourceIdPipe) id: string): Promise<VerificationStateWire> {
    const { result, nextCheckAt } = await this.verification.lastResult(iid, id);
    return { ...toVerificationWire(result), 'next-check-at': nextCheckAt?.toISOString() ?? null };
  }

  @Get('verification/history')
  @RequireScope(Scope.IntegrationsRead)
  @ApiOperation({
    summary: 'The last 10 checks, newest first',
    description:
      'Manual (POST …/verify), scheduled, and on save (VERIFY_ON_SAVE), whatever revision they checked. A scheduled check the vendor ' +
      'could not answer (429, 5xx, timeout) is not a result and is not listed: it is tried again later.',
  })
  @ApiResponse({
    status: 200,
    description: 'Up to 10 results, newest first; an empty array when never checked',
    schema: { type: 'array', items: VERIFICATION_HISTORY_ENTRY_REF, maxItems: 10 },
    headers: responseHeaders(),
    examples: { history: { summary: 'A failure, then a scheduled check after it was fixed', value: HISTORY_EXAMPLE } },
  })
  @ApiErrors({
    400: [ERR.badPathId('iid'), ERR.badUrl, ERR.badPathId('id')],
    403: [ERR.lacksScope('integrations:read'), ERR.foreignTenant],
    404: [E.tenant, E.integration],
  })
  async history(@Param('iid') iid: string, @Param('id', ResourceIdPipe) id: string): Promise<VerificationHistoryWire[]> {
    const entries = await this.verification.history(iid, id);
    return entries.map((entry) => ({ ...toVerificationWire(entry), revision: entry.revision, trigger: entry.trigger }));
  }
}
