import { SecretField, VendorField } from '../../common/validation/field-decorators';
import { IntegrationBaseDto } from './integration-base.dto';
import type { VendorCredentials, VendorDefinition } from './vendor-definition';
import type { VerifyContext, VerifyOutcome } from '../verification/verifier';
import { basicAuth, failure, objectOf, stringOf } from '../verification/vendor-response';

export class SendgridIntegrationDto extends IntegrationBaseDto {
  @VendorField({ description: 'SendGrid user name', example: 'username' })
  account!: string;

  @SecretField({ description: 'SendGrid password', example: 'password' })
  password!: string;
}

export const sendgridVendor: VendorDefinition = {
  type: 'sendgrid',
  title: 'SendGrid',
  description: 'SendGrid e-mail delivery (user name and password)',
  dto: SendgridIntegrationDto,
  example: { id: 'sendgrid', account: 'username', password: 'password' },
  baseUrlEnv: 'SENDGRID_API_URL',
  defaultBaseUrl: 'https://api.sendgrid.com',
  verify: verifySendgrid,
};

/**
 * Reads the user profile (`GET /v3/user/profile`) with HTTP Basic account:password,
 * the credential pair the original contract stores. (SendGrid now prefers API keys
 * as Bearer tokens; an account that only accepts those will answer 401 here.)
 */
export async function verifySendgrid(
  credentials: VendorCredentials,
  { baseUrl, http }: VerifyContext,
): Promise<VerifyOutcome> {
  const account = credentials.account as string;
  const response = await http.request({
    method: 'GET',
    url: `${baseUrl}/v3/user/profile`,
    headers: { authorization: basicAuth(account, credentials.password as string) },
  });
  if (response.status === 200) return { ok: true, message: `Signed in to SendGrid as ${account}` };
  // SendGrid errors: { errors: [{ field, message }] }.
  const errors = objectOf(response.json).errors;
  const messages = Array.isArray(errors) ? errors.map((e) => stringOf(objectOf(e).message)).filter(Boolean) : [];
  return { ok: false, message: failure('SendGrid', response, messages.length ? messages.join('; ') : undefined) };
}
