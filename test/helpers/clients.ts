import type { LightMyRequestResponse } from 'fastify';
import { adminToken, type TestApp } from './test-app';

/** An API client as POST /tenants/:iid/api-clients returned it. */
export interface CreatedClient {
  id: string;
  secret: string;
  scope: string;
}

/** Creates an API client (as a platform admin unless `jwt` says otherwise) and returns its credentials. */
export async function createClient(t: TestApp, tenant: string, scope: string, jwt = adminToken(), name = 'test client'): Promise<CreatedClient> {
  const response = await t.app.inject({
    method: 'POST',
    url: `/tenants/${tenant}/api-clients`,
    headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ name, scope }),
  });
  if (response.statusCode !== 201) throw new Error(`creating a client in ${tenant} answered ${response.statusCode}: ${response.body}`);
  const body = response.json<{ 'client-id': string; 'client-secret': string; scope: string }>();
  return { id: body['client-id'], secret: body['client-secret'], scope: body.scope };
}

/** HTTP Basic as RFC 6749 §2.3.1 builds it: id and secret form-encoded, then joined and base64'd. */
export function basicAuth(id: string, secret: string): string {
  const encode = (value: string): string => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(id)}:${encode(secret)}`).toString('base64')}`;
}

/** A form body from its parameters. */
export function form(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

/** POST /token with a form body and optional headers. */
export function postToken(
  t: TestApp,
  params: Record<string, string>,
  headers: Record<string, string> = {},
  url = '/token',
  remoteAddress = '127.0.0.1',
): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: form(params),
    remoteAddress,
  });
}

/** A token for the client, by HTTP Basic; throws unless the answer is 200. */
export async function clientToken(t: TestApp, client: { id: string; secret: string }, scope?: string): Promise<string> {
  const response = await postToken(t, { grant_type: 'client_credentials', ...(scope === undefined ? {} : { scope }) }, { authorization: basicAuth(client.id, client.secret) });
  if (response.statusCode !== 200) throw new Error(`POST /token answered ${response.statusCode}: ${response.body}`);
  return response.json<{ access_token: string }>().access_token;
}

/** The claims of a JWT, unverified (for assertions). */
export function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;
}

export function headerOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8')) as Record<string, unknown>;
}
