/**
 * The five scenarios as autocannon request lists (randomised per request with
 * setupRequest), and one measured run of autocannon as a library.
 */
import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { sign } from 'jsonwebtoken';
import { JWT_AUDIENCE, JWT_ISSUER } from './config';
import { INTEGRATION_IDS, tenantId } from './seed';

// autocannon 8 ships no types; this is the part of its result the bench reads.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (options: Record<string, unknown>) => Promise<AutocannonResult> & { stop(): void };

export interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  resets: number;
  mismatches: number;
  '2xx': number;
  statusCodeStats: Record<string, { count: number }>;
  latency: {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    p50: number;
    p90: number;
    p97_5: number;
    p99: number;
    p99_9?: number;
  };
  requests: { average: number; mean: number; total: number; sent: number; min: number; max: number };
  throughput: { average: number };
}

export type ScenarioId = 1 | 2 | 3 | 4 | 5;

export const SCENARIO_NAMES: Record<ScenarioId, string> = {
  1: 'GET one (reveal)',
  2: 'GET list (10 items)',
  3: 'POST replace (twilio)',
  4: 'GET one, 100x data',
  5: 'POST create (new ids)',
};

/** The order they run in: 1, 2, 3 and 5 on the small set (5 last, since it adds rows), then 4 on the 100x set. */
export const SCENARIO_ORDER: readonly ScenarioId[] = [1, 2, 3, 5, 4];

/** Ids that scenario 5 creates (`new-<counter>-<random>`); the bench deletes them after each turn. */
export const CREATED_ID_PREFIX = 'new-';

export const READ_WRITE_SECRETS = 'integrations:read integrations:write integrations:secrets';
/** Without integrations:secrets: GET answers secrets masked. */
export const READ_WRITE = 'integrations:read integrations:write';

/**
 * One `Authorization` header per tenant: a platform service's token for that
 * tenant with `scope`, by default allowed to see secrets (READ_WRITE for a
 * book whose GETs answer secrets masked).
 */
export class TokenBook {
  private readonly key: KeyObject;
  private readonly headers: string[] = [];

  constructor(
    jwtSecret: string,
    readonly scope = READ_WRITE_SECRETS,
    private readonly ttlSeconds = 4 * 3600,
  ) {
    this.key = createSecretKey(Buffer.from(jwtSecret));
  }

  /** Signs tokens for tenants 0..count-1 (once; later calls extend the book). */
  ensure(count: number): void {
    for (let i = this.headers.length; i < count; i++) this.headers.push(`Bearer ${this.mint(tenantId(i), this.scope)}`);
  }

  header(index: number): string {
    return this.headers[index];
  }

  mint(tenant: string | undefined, scope: string): string {
    return sign({ scope, ...(tenant === undefined ? {} : { tenants: [tenant] }) }, this.key, {
      algorithm: 'HS256',
      subject: 'bench-platform-service',
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
      expiresIn: this.ttlSeconds,
    });
  }
}

interface RawRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
}

const pick = (n: number): number => Math.floor(Math.random() * n);

/** Bodies that replace a Twilio integration (new account SID and auth token). */
export function twilioBodies(count = 64): string[] {
  return Array.from({ length: count }, () =>
    JSON.stringify({ account: `AC${randomBytes(16).toString('hex')}`, password: randomBytes(16).toString('hex') }),
  );
}

/** Bodies that create a Twilio integration under an id that is not a vendor type (so `type` is sent). */
export function twilioCreateBodies(count = 64): string[] {
  return twilioBodies(count).map((body) => JSON.stringify({ type: 'twilio', ...(JSON.parse(body) as Record<string, string>) }));
}

/** autocannon `requests` for a scenario over `tenants` tenants. */
export function scenarioRequests(scenario: ScenarioId, tenants: number, tokens: TokenBook): Record<string, unknown>[] {
  tokens.ensure(tenants);
  const bodies = scenario === 5 ? twilioCreateBodies() : twilioBodies();
  const ids = INTEGRATION_IDS;
  switch (scenario) {
    case 1:
    case 4:
      return [
        {
          method: 'GET',
          setupRequest: (req: RawRequest) => {
            const t = pick(tenants);
            req.path = `/tenants/${tenantId(t)}/integrations/${ids[pick(ids.length)]}`;
            req.headers = { authorization: tokens.header(t) };
            return req;
          },
        },
      ];
    case 2:
      return [
        {
          method: 'GET',
          setupRequest: (req: RawRequest) => {
            const t = pick(tenants);
            req.path = `/tenants/${tenantId(t)}/integrations`;
            req.headers = { authorization: tokens.header(t) };
            return req;
          },
        },
      ];
    case 3:
      return [
        {
          method: 'POST',
          setupRequest: (req: RawRequest) => {
            const t = pick(tenants);
            req.path = `/tenants/${tenantId(t)}/integrations/twilio`;
            req.headers = { authorization: tokens.header(t), 'content-type': 'application/json' };
            req.body = bodies[pick(bodies.length)];
            return req;
          },
        },
      ];
    case 5: {
      // A new id every request, in a random tenant: many tenants take inserts at once.
      let counter = 0;
      return [
        {
          method: 'POST',
          setupRequest: (req: RawRequest) => {
            const t = pick(tenants);
            counter++;
            req.path = `/tenants/${tenantId(t)}/integrations/${CREATED_ID_PREFIX}${counter}-${Math.random().toString(36).slice(2, 8)}`;
            req.headers = { authorization: tokens.header(t), 'content-type': 'application/json' };
            req.body = bodies[pick(bodies.length)];
            return req;
          },
        },
      ];
    }
  }
}

export interface LoadStats {
  requestsPerSec: number;
  total: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
}

export function statsOf(result: AutocannonResult): LoadStats {
  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stat.count;
  return {
    requestsPerSec: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    mean: result.latency.mean,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
  };
}

/**
 * One autocannon run against 127.0.0.1:port, or against several ports at once:
 * autocannon opens connection i to ports[i % ports.length] and keeps it, so the
 * load is spread evenly when `connections` is a multiple of the ports (as an L4
 * balancer spreads connections); a faster instance still answers more requests.
 */
export async function runLoad(
  port: number | readonly number[],
  requests: Record<string, unknown>[],
  seconds: number,
  connections: number,
): Promise<LoadStats> {
  const ports = typeof port === 'number' ? [port] : port;
  const result = await autocannon({
    url: ports.length === 1 ? `http://127.0.0.1:${ports[0]}` : ports.map((p) => `http://127.0.0.1:${p}`),
    connections,
    duration: seconds,
    requests,
    timeout: 10,
  });
  return statsOf(result);
}
