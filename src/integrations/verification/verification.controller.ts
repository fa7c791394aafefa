import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ActsOnTenant, RequireScope } from '../../auth/auth.decorators';
import { Scope } from '../../auth/scopes';
import { ApiErrors } from '../../common/openapi';
import { ResourceIdPipe } from '../../common/pipes/resource-id.pipe';
import { toVerificationWire, VERIFICATION_SCHEMA, type VerificationWire } from './verification-result';
import { VerificationService } from './verification.service';

@ApiTags('integrations')
@ApiBearerAuth()
@ApiParam({ name: 'iid', description: 'Tenant id' })
@ApiParam({ name: 'id', description: 'Integration id' })
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
  @ApiResponse({ status: 200, description: 'The result: ok or failed, with the reason', schema: VERIFICATION_SCHEMA })
  @ApiErrors(400, 403, 404)
  async verify(@Param('iid') iid: string, @Param('id', ResourceIdPipe) id: string): Promise<VerificationWire> {
    return toVerificationWire(await this.verification.verifyStored(iid, id));
  }

  @Get('verification')
  @RequireScope(Scope.IntegrationsRead)
  @ApiOperation({
    summary: 'The last verification result',
    description: 'Kept until the credentials change: a POST or PATCH of the integration clears it (or, with VERIFY_ON_SAVE, replaces it).',
  })
  @ApiResponse({ status: 200, description: 'The last result', schema: VERIFICATION_SCHEMA })
  @ApiErrors(400, 403, 404)
  async last(@Param('iid') iid: string, @Param('id', ResourceIdPipe) id: string): Promise<VerificationWire> {
    return toVerificationWire(await this.verification.lastResult(iid, id));
  }
}
