/**
 * A typed client of the Integrations API: openapi-fetch over the types that
 * openapi-typescript generates from the repository's openapi.json into
 * schema.d.ts (`npm run client`; never edit that file by hand).
 *
 *   const api = createIntegrationsClient({ baseUrl: 'http://localhost:3000', token });
 *   const { data, error } = await api.GET('/tenants/{iid}/integrations/{id}', { params: { path: { iid: 'acme', id: 'twilio' } } });
 */
import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './schema';

export type { components, paths };

type Schemas = components['schemas'];
/** An integration as the service answers it: a union discriminated by `type`. */
export type Integration = Schemas['Integration'];
/** A body of `POST /tenants/{iid}/integrations/{id}`. */
export type IntegrationInput = Schemas['IntegrationInput'];
/** A body of `POST /tenants/{iid}/integrations` (id in the body). */
export type IntegrationInputWithId = Schemas['IntegrationInputWithId'];
/** A body of `PATCH /tenants/{iid}/integrations/{id}`. */
export type IntegrationPatch = Schemas['IntegrationPatch'];
export type Tenant = Schemas['TenantResponse'];
export type VerificationResult = Schemas['VerificationResult'];
/** One of a tenant's API clients (never its secret). */
export type ApiClient = Schemas['ApiClientResponse'];
/** The answer that creates an API client: its secret, shown this once. */
export type CreatedApiClient = Schemas['CreatedApiClientResponse'];
/** A body of `POST /token`, sent form-encoded (`headers: { 'Content-Type': 'application/x-www-form-urlencoded' }`). */
export type TokenRequest = Schemas['TokenRequest'];
/** The answer of `POST /token` (RFC 6749 §5.1). */
export type TokenResponse = Schemas['TokenResponse'];
export type IntegrationsApi = Client<paths>;

export interface IntegrationsClientOptions extends Omit<ClientOptions, 'baseUrl'> {
  baseUrl: string;
  /** The bearer token (a JWT), or a function that returns the current one. */
  token?: string | (() => string | Promise<string>);
}

export function createIntegrationsClient({ token, ...options }: IntegrationsClientOptions): IntegrationsApi {
  const client = createClient<paths>(options);
  if (token !== undefined) {
    client.use({
      async onRequest({ request }) {
        request.headers.set('Authorization', `Bearer ${typeof token === 'string' ? token : await token()}`);
        return request;
      },
    });
  }
  return client;
}
