import { MAX_FIELD_LENGTH, SecretField, VendorField } from '../../common/validation/field-decorators';
import { IntegrationBaseDto } from './integration-base.dto';
import type { VendorCredentials, VendorDefinition } from './vendor-definition';
import type { VerifyContext, VerifyOutcome } from '../verification/verifier';
import { objectOf, stringOf, unexpected } from '../verification/vendor-response';

export class SalesforceIntegrationDto extends IntegrationBaseDto {
  @VendorField({ description: 'Connected app consumer key (OAuth client_id)', example: 'consumerkey' })
  'consumer-key'!: string;

  @SecretField({ description: 'Connected app consumer secret (OAuth client_secret)', example: 'consumersecret' })
  'consumer-secret'!: string;

  @VendorField({ description: 'Salesforce user name', example: 'dev@userevents.com' })
  username!: string;

  @SecretField({ description: 'Password of that user', example: 'password' })
  password!: string;

  @SecretField({ description: "The user's security token, appended to the password at login", example: 'secret-token' })
  'secret-token'!: string;

  @VendorField({
    description: 'Instance URL, set by the server when the credentials are verified; a client value is only the initial one',
    example: 'https://na1.salesforce.com',
    required: false,
  })
  instance?: string;
}

export const salesforceVendor: VendorDefinition = {
  type: 'salesforce',
  title: 'Salesforce',
  description: 'Salesforce CRM through a connected app (OAuth 2.0 username-password flow)',
  dto: SalesforceIntegrationDto,
  serverAssignedFields: ['instance'],
  example: {
    id: 'salesforce',
    type: 'salesforce',
    'consumer-key': 'consumerkey',
    'consumer-secret': 'consumersecret',
    username: 'dev@userevents.com',
    'secret-token': 'secret-token',
    password: 'password',
  },
  baseUrlEnv: 'SALESFORCE_LOGIN_URL',
  // Production orgs; a sandbox sets SALESFORCE_LOGIN_URL=https://test.salesforce.com.
  defaultBaseUrl: 'https://login.salesforce.com',
  verify: verifySalesforce,
};

/**
 * OAuth 2.0 username-password flow against the connected app. Salesforce wants the
 * user's security token appended to the password. The answer's `instance_url` is
 * the org's own host, which the service keeps as the integration's `instance`.
 */
export async function verifySalesforce(
  credentials: VendorCredentials,
  { baseUrl, http }: VerifyContext,
): Promise<VerifyOutcome> {
  const username = credentials.username as string;
  const response = await http.request({
    method: 'POST',
    url: `${baseUrl}/services/oauth2/token`,
    form: {
      grant_type: 'password',
      client_id: credentials['consumer-key'] as string,
      client_secret: credentials['consumer-secret'] as string,
      username,
      password: `${credentials.password as string}${credentials['secret-token'] as string}`,
    },
  });
  const body = objectOf(response.json);
  if (response.status === 200) {
    const instance = stringOf(body.instance_url);
    if (!instance || !isHttpUrl(instance)) {
      return { ok: false, message: 'Salesforce accepted the login but answered without a valid instance_url' };
    }
    return { ok: true, message: `Logged in to Salesforce as ${username}; instance ${instance}`, updates: { instance } };
  }
  // Salesforce's token endpoint answers OAuth errors as { error, error_description }, usually with 400.
  const error = stringOf(body.error);
  if (error && response.status < 500) {
    const description = stringOf(body.error_description);
    return {
      ok: false,
      message: `Salesforce rejected the login: ${error}${description ? ` (${description})` : ''}, HTTP ${response.status}`,
    };
  }
  return { ok: false, message: unexpected('Salesforce', response) };
}

/** `instance` is stored and shown as a URL, so only a plausible one is accepted. */
function isHttpUrl(value: string): boolean {
  if (value.length > MAX_FIELD_LENGTH) return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}
