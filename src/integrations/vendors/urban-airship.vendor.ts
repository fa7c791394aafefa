import { SecretField, VendorField } from '../../common/validation/field-decorators';
import { IntegrationBaseDto } from './integration-base.dto';
import type { VendorCredentials, VendorDefinition } from './vendor-definition';
import type { VerifyContext, VerifyOutcome } from '../verification/verifier';
import { basicAuth, failure, objectOf, stringOf } from '../verification/vendor-response';

export class UrbanAirshipIntegrationDto extends IntegrationBaseDto {
  @VendorField({ description: 'Urban Airship (Airship) app key', example: 'app-key' })
  username!: string;

  @SecretField({ description: 'Urban Airship master secret', example: 'master-secret' })
  password!: string;
}

export const urbanAirshipVendor: VendorDefinition = {
  type: 'urban-airship',
  title: 'Urban Airship',
  description: 'Urban Airship (Airship) push notifications (app key and master secret)',
  dto: UrbanAirshipIntegrationDto,
  example: { id: 'urban-airship', username: 'app-key', password: 'master-secret' },
  baseUrlEnv: 'URBAN_AIRSHIP_API_URL',
  // The North American data centre; an app hosted in the EU needs URBAN_AIRSHIP_API_URL=https://go.airship.eu.
  defaultBaseUrl: 'https://go.urbanairship.com',
  verify: verifyUrbanAirship,
};

/**
 * Lists one channel (`GET /api/channels?limit=1`) with HTTP Basic app_key:master_secret:
 * a read that needs the master secret, so it proves both fields. Airship requires the
 * versioned Accept header on every call.
 */
export async function verifyUrbanAirship(
  credentials: VendorCredentials,
  { baseUrl, http }: VerifyContext,
): Promise<VerifyOutcome> {
  const appKey = credentials.username as string;
  const response = await http.request({
    method: 'GET',
    url: `${baseUrl}/api/channels?limit=1`,
    headers: {
      authorization: basicAuth(appKey, credentials.password as string),
      accept: 'application/vnd.urbanairship+json; version=3',
    },
  });
  if (response.status === 200) return { ok: true, message: `Urban Airship accepted app key ${appKey}` };
  // Airship errors: { ok: false, error, error_code }.
  const body = objectOf(response.json);
  const error = stringOf(body.error);
  const code = stringOf(body.error_code);
  return {
    ok: false,
    message: failure('Urban Airship', response, error && (code ? `${error} (error_code ${code})` : error)),
  };
}
