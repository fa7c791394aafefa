/**
 * Scenarios 6 and 7 (issue 13): the service's own tokens. They measure the
 * service alone (the baseline has no token endpoint), side against side:
 *
 * - 6. `POST /token`: client credentials by HTTP Basic, a random client of
 *   CLIENT_TENANTS per request. Every request checks a scrypt hash, so this is
 *   the cost of the slow hash, paid in libuv's thread pool.
 * - 7. scenario 1's GET on the tenants that have a client, once with the
 *   platform's external tokens (HS256, as scenario 1) and once with tokens from
 *   POST /token (ES256, self-issued), alternating turns: the two must be
 *   within 5 % of each other.
 */
import type { TokenBook } from './load';
import type { Turn } from './measure';
import { INTEGRATION_IDS, tenantId } from './seed';
import { httpCall, type RunningServer } from './servers';

export type TokenScenarioId = 6 | 7;

export const TOKEN_SCENARIO_NAMES: Record<TokenScenarioId, string> = {
  6: 'POST /token (client credentials)',
  7: 'GET one: self-issued vs external token',
};

/** How many tenants get an API client (one each) for scenarios 6 and 7. */
export const CLIENT_TENANTS = 100;

export interface BenchClient {
  tenant: number;
  id: string;
  secret: string;
  basic: string;
}

const pick = (n: number): number => Math.floor(Math.random() * n);

/** Creates one API client in each of the first `count` tenants, through the API, as a platform admin. */
export async function createClients(server: RunningServer, tokens: TokenBook, count: number): Promise<BenchClient[]> {
  const admin = `Bearer ${tokens.mint(undefined, 'platform:admin')}`;
  const clients: BenchClient[] = [];
  for (let t = 0; t < count; t++) {
    const answer = await httpCall(
      server.port,
      'POST',
      `/tenants/${tenantId(t)}/api-clients`,
      { authorization: admin, 'content-type': 'application/json' },
      JSON.stringify({ name: `bench ${t}`, scope: 'integrations:read integrations:write integrations:secrets' }),
    );
    if (answer.status !== 201) throw new Error(`creating an API client in ${tenantId(t)} answered ${answer.status}: ${answer.body.slice(0, 200)}`);
    const body = JSON.parse(answer.body) as { 'client-id': string; 'client-secret': string };
    const basic = `Basic ${Buffer.from(`${body['client-id']}:${body['client-secret']}`).toString('base64')}`;
    clients.push({ tenant: t, id: body['client-id'], secret: body['client-secret'], basic });
  }
  return clients;
}

/** One access token per client, from POST /token. */
export async function issueTokens(server: RunningServer, clients: BenchClient[]): Promise<string[]> {
  const headers: string[] = [];
  for (const client of clients) {
    const answer = await httpCall(
      server.port,
      'POST',
      '/token',
      { authorization: client.basic, 'content-type': 'application/x-www-form-urlencoded' },
      'grant_type=client_credentials',
    );
    if (answer.status !== 200) throw new Error(`POST /token for ${client.id} answered ${answer.status}: ${answer.body.slice(0, 200)}`);
    headers.push(`Bearer ${(JSON.parse(answer.body) as { access_token: string }).access_token}`);
  }
  return headers;
}

/** Scenario 6's requests: POST /token for a random client. */
export function tokenRequests(clients: BenchClient[]): Record<string, unknown>[] {
  return [
    {
      method: 'POST',
      setupRequest: (req: { path?: string; headers?: Record<string, string>; body?: string }) => {
        const client = clients[pick(clients.length)];
        req.path = '/token';
        req.headers = { authorization: client.basic, 'content-type': 'application/x-www-form-urlencoded' };
        req.body = 'grant_type=client_credentials';
        return req;
      },
    },
  ];
}

/** Scenario 7's requests: scenario 1's GET on the client tenants, with `headers[i]` for tenant i. */
export function hotGetRequests(headers: string[]): Record<string, unknown>[] {
  return [
    {
      method: 'GET',
      setupRequest: (req: { path?: string; headers?: Record<string, string> }) => {
        const t = pick(headers.length);
        req.path = `/tenants/${tenantId(t)}/integrations/${INTEGRATION_IDS[pick(INTEGRATION_IDS.length)]}`;
        req.headers = { authorization: headers[t] };
        return req;
      },
    },
  ];
}

/** A measured turn of scenario 6 or 7 (bench/measure.ts). */
export type TokenRunRecord = Turn & { scenario: TokenScenarioId; side: string; round: number };
