import { SecretField, VendorField } from '../../common/validation/field-decorators';
import { IntegrationBaseDto } from './integration-base.dto';
import type { VendorCredentials, VendorDefinition } from './vendor-definition';
import { createHmac } from 'node:crypto';
import type { VerifyContext, VerifyOutcome } from '../verification/verifier';
import { bodySnippet, failure } from '../verification/vendor-response';

export class PusherIntegrationDto extends IntegrationBaseDto {
  @VendorField({ description: 'Pusher app key', example: 'app-key' })
  key!: string;

  @SecretField({ description: 'Pusher app secret', example: 'app-secret' })
  secret!: string;

  // Pusher's REST API addresses an app by its numeric id; the original contract
  // has only key and secret, so the id is optional and needed only to verify.
  @VendorField({ description: 'Pusher app id (needed only to verify the credentials)', example: '123456', required: false })
  'app-id'?: string;
}

export const pusherVendor: VendorDefinition = {
  type: 'pusher',
  title: 'Pusher',
  description: 'Pusher Channels realtime messaging (app key and secret)',
  dto: PusherIntegrationDto,
  example: { id: 'pusher', type: 'pusher', key: 'app-key', secret: 'app-secret' },
  baseUrlEnv: 'PUSHER_API_URL',
  // Assumption: apps live on Pusher's default cluster, mt1. An app on another cluster
  // (eu, ap1, us2, …) needs PUSHER_API_URL=https://api-<cluster>.pusher.com, since the
  // contract's fields do not say the cluster; a wrong cluster answers 404 for the app.
  defaultBaseUrl: 'https://api-mt1.pusher.com',
  verify: verifyPusher,
};

/**
 * Lists the app's channels (`GET /apps/{app_id}/channels`), Pusher Channels' cheapest
 * authenticated read. Pusher authenticates by signing the request: auth_signature is
 * hex HMAC-SHA256(secret, "GET\n<path>\n<query sorted by key, without auth_signature>").
 */
export async function verifyPusher(
  credentials: VendorCredentials,
  { baseUrl, http }: VerifyContext,
): Promise<VerifyOutcome> {
  if (!credentials['app-id']) {
    return {
      ok: false,
      message: "pusher: set app-id to verify the credentials (Pusher's REST API addresses an app by its numeric id)",
    };
  }
  const appId = credentials['app-id'];
  const key = credentials.key as string;
  const path = `/apps/${encodeURIComponent(appId)}/channels`;
  const query = pusherSignedQuery('GET', path, key, credentials.secret as string, Math.floor(Date.now() / 1000));
  const response = await http.request({ method: 'GET', url: `${baseUrl}${path}?${query}` });
  if (response.status === 200) return { ok: true, message: `Pusher accepted key ${key} for app ${appId}` };
  if (response.status === 404) {
    return {
      ok: false,
      message: `Pusher does not know app ${appId} (HTTP 404): check app-id, and the cluster in PUSHER_API_URL`,
    };
  }
  // Pusher's auth errors are plain text: "Unknown auth_key", "Invalid signature: …", "Timestamp expired: …".
  return {
    ok: false,
    message: failure('Pusher', response, response.json === undefined ? bodySnippet(response) : undefined),
  };
}

/** The query string of a signed Pusher REST call (auth_version 1.0), signature last. */
export function pusherSignedQuery(
  method: string,
  path: string,
  key: string,
  secret: string,
  timestamp: number,
): string {
  const params: Record<string, string> = { auth_key: key, auth_timestamp: String(timestamp), auth_version: '1.0' };
  const toSign = Object.keys(params)
    .sort()
    .map((name) => `${name}=${params[name]}`)
    .join('&');
  const signature = createHmac('sha256', secret).update(`${method}\n${path}\n${toSign}`).digest('hex');
  const encoded = new URLSearchParams(params);
  encoded.set('auth_signature', signature);
  return encoded.toString();
}
