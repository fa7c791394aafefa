import { SecretField, VendorField } from '../../common/validation/field-decorators';
import { IntegrationBaseDto } from './integration-base.dto';
import type { VendorCredentials, VendorDefinition } from './vendor-definition';
import type { VerifyContext, VerifyOutcome } from '../verification/verifier';
import { failure, objectOf, stringOf } from '../verification/vendor-response';

export class DatasiftIntegrationDto extends IntegrationBaseDto {
  @VendorField({ description: 'DataSift user name', example: 'username' })
  username!: string;

  @SecretField({ description: 'DataSift API key', example: 'api-key' })
  'api-key'!: string;
}

export const datasiftVendor: VendorDefinition = {
  type: 'datasift',
  title: 'DataSift',
  description: 'DataSift social data (user name and API key)',
  dto: DatasiftIntegrationDto,
  example: { id: 'datasift', 'api-key': 'api-key', username: 'username' },
  baseUrlEnv: 'DATASIFT_API_URL',
  defaultBaseUrl: 'https://api.datasift.com',
  verify: verifyDatasift,
};

/**
 * Reads the account's usage (`GET /v1.6/usage`): DataSift authenticates every call
 * with the header `Authorization: username:api-key` (not Basic, no base64).
 */
export async function verifyDatasift(
  credentials: VendorCredentials,
  { baseUrl, http }: VerifyContext,
): Promise<VerifyOutcome> {
  const username = credentials.username as string;
  const response = await http.request({
    method: 'GET',
    url: `${baseUrl}/v1.6/usage`,
    headers: { authorization: `${username}:${credentials['api-key'] as string}` },
  });
  if (response.status === 200) return { ok: true, message: `DataSift accepted the API key of ${username}` };
  // DataSift errors: { error: "..." }.
  return { ok: false, message: failure('DataSift', response, stringOf(objectOf(response.json).error)) };
}
