import { SecretField, VendorField } from '../../common/validation/field-decorators';
import { IntegrationBaseDto } from './integration-base.dto';
import type { VendorCredentials, VendorDefinition } from './vendor-definition';
import type { VerifyContext, VerifyOutcome } from '../verification/verifier';
import { basicAuth, failure, objectOf, stringOf } from '../verification/vendor-response';

export class TwilioIntegrationDto extends IntegrationBaseDto {
  @VendorField({ description: 'Account SID', example: 'SID' })
  account!: string;

  @SecretField({ description: 'Auth token', example: 'Token' })
  password!: string;
}

export const twilioVendor: VendorDefinition = {
  type: 'twilio',
  title: 'Twilio',
  description: 'Twilio voice and SMS (account SID and auth token)',
  dto: TwilioIntegrationDto,
  example: { id: 'twilio', account: 'SID', password: 'Token' },
  baseUrlEnv: 'TWILIO_API_URL',
  defaultBaseUrl: 'https://api.twilio.com',
  verify: verifyTwilio,
};

/**
 * Fetches the account itself (`GET /2010-04-01/Accounts/{sid}.json`, Basic sid:token):
 * the cheapest authenticated read, and it tells whether the account is active.
 */
export async function verifyTwilio(
  credentials: VendorCredentials,
  { baseUrl, http }: VerifyContext,
): Promise<VerifyOutcome> {
  const account = credentials.account as string;
  const response = await http.request({
    method: 'GET',
    url: `${baseUrl}/2010-04-01/Accounts/${encodeURIComponent(account)}.json`,
    headers: { authorization: basicAuth(account, credentials.password as string) },
  });
  const body = objectOf(response.json);
  if (response.status === 200) {
    const status = stringOf(body.status) ?? 'active';
    const name = stringOf(body.friendly_name);
    const label = name ? `"${name}" (${account})` : account;
    // A suspended or closed account authenticates but cannot send anything: not usable.
    if (status !== 'active') return { ok: false, message: `Twilio account ${label} is ${status}` };
    return { ok: true, message: `Twilio account ${label} is active` };
  }
  // Twilio errors: { code, message, more_info, status }, e.g. 20003 Authenticate, 20404 not found.
  const message = stringOf(body.message);
  const code = stringOf(body.code);
  return { ok: false, message: failure('Twilio', response, message && (code ? `${message} (code ${code})` : message)) };
}
