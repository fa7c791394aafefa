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
import { VERIFICATION_REF } from '../integrations.openapi';
import { ResourceIdPipe } from '../../common/pipes/resource-id.pipe';
import { IntegrationNotVerifiedError, toVerificationWire, type VerificationWire } from './verification-result';
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
    summary: 'The last verification result',
    description: 'Kept until the credentials change: a POST or PATCH of the integration clears it (or, with VERIFY_ON_SAVE, replaces it).',
  })
  @ApiResponse({
    status: 200,
    description: 'The last result',
    schema: VERIFICATION_REF,
    headers: responseHeaders(),
    examples: RESULT_EXAMPLES,
  })
  @ApiErrors({
    400: [ERR.badPathId('iid'), ERR.badUrl, ERR.badPathId('id')],
    403: [ERR.lacksScope('integrations:read'), ERR.foreignTenant],
    404: [E.tenant, E.integration, exampleOf('never verified, or changed since', new IntegrationNotVerifiedError('twilio'))],
  })
  async last(@Param('iid') iid: string, @Param('id', ResourceIdPipe) id: string): Promise<VerificationWire> {
    return toVerificationWire(await this.verification.lastResult(iid, id));
  }
}
