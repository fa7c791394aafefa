/**
 * The checks bench/run.ts makes before it measures (and bench/before-after.ts
 * makes of both revisions): a server must answer with the seeded data and
 * follow the write contract, or its numbers mean nothing.
 */
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { READ_WRITE, READ_WRITE_SECRETS, type TokenBook } from './load';
import { expectedWire, INTEGRATION_IDS, INTEGRATION_PLAN, tenantId } from './seed';
import { httpCall, type HttpAnswer, type RunningServer } from './servers';

/**
 * Both servers must give the same answers: plaintext secrets exactly as seeded
 * (so the seed's encryption is the service's), the list with its total, and a
 * replace that echoes what was sent and reads back the same.
 */
export async function checkAnswers(server: RunningServer, tokens: TokenBook, tenants: number, failures: string[]): Promise<void> {
  const where = server.name;
  const expect = (ok: boolean, what: string): void => {
    if (!ok) failures.push(`${where}: ${what}`);
  };
  tokens.ensure(tenants);
  for (let n = 0; n < 8; n++) {
    const t = Math.floor(Math.random() * tenants);
    const id = INTEGRATION_IDS[n % INTEGRATION_IDS.length];
    const tid = tenantId(t);
    const answer = await httpCall(server.port, 'GET', `/tenants/${tid}/integrations/${id}`, { authorization: tokens.header(t) });
    expect(answer.status === 200, `GET ${tid}/${id} answered ${answer.status} ${answer.body.slice(0, 200)}`);
    if (answer.status === 200 && id !== 'twilio') {
      expect(
        answer.body === JSON.stringify(expectedWire(tid, id)),
        `GET ${tid}/${id} body differs from the seed: ${answer.body.slice(0, 300)}`,
      );
    }
    expect(typeof answer.headers.etag === 'string', `GET ${tid}/${id} has no ETag`);
  }
  const list = await httpCall(server.port, 'GET', `/tenants/${tenantId(1)}/integrations`, { authorization: tokens.header(1) });
  expect(list.status === 200, `GET list answered ${list.status}`);
  expect(
    list.headers['x-total-count'] === String(INTEGRATION_PLAN.length),
    `GET list X-Total-Count = ${String(list.headers['x-total-count'])}`,
  );
  if (list.status === 200) {
    const items = JSON.parse(list.body) as { id: string }[];
    expect(items.length === INTEGRATION_PLAN.length, `GET list has ${items.length} items`);
    const mine = items.filter((item) => item.id !== 'twilio');
    expect(
      isDeepStrictEqual(
        mine,
        INTEGRATION_IDS.filter((id) => id !== 'twilio').map((id) => expectedWire(tenantId(1), id)),
      ),
      'GET list items differ from the seed',
    );
  }
  const masked = await httpCall(server.port, 'GET', `/tenants/${tenantId(1)}/integrations/salesforce`, {
    authorization: `Bearer ${tokens.mint(tenantId(1), 'integrations:read')}`,
  });
  expect(
    masked.status === 200 && (JSON.parse(masked.body) as Record<string, string>).password === '********',
    'GET without integrations:secrets is not masked',
  );
  const body = { account: `AC${'0'.repeat(32)}`, password: `check-${server.name}` };
  const post = await httpCall(
    server.port,
    'POST',
    `/tenants/${tenantId(0)}/integrations/twilio`,
    { authorization: tokens.header(0), 'content-type': 'application/json' },
    JSON.stringify(body),
  );
  expect(post.status === 200, `POST replace answered ${post.status} ${post.body.slice(0, 200)}`);
  expect(post.body === JSON.stringify({ id: 'twilio', type: 'twilio', ...body }), `POST replace echoed ${post.body.slice(0, 200)}`);
  const back = await httpCall(server.port, 'GET', `/tenants/${tenantId(0)}/integrations/twilio`, { authorization: tokens.header(0) });
  expect(back.body === post.body, `GET after POST answered ${back.body.slice(0, 200)}`);
  const other = await httpCall(server.port, 'GET', `/tenants/${tenantId(2)}/integrations/pusher`, { authorization: tokens.header(1) });
  expect(other.status === 403, `a token of another tenant got ${other.status}`);
  const missing = await httpCall(server.port, 'GET', `/tenants/${tenantId(1)}/integrations/nope`, { authorization: tokens.header(1) });
  expect(missing.status === 404, `a missing integration got ${missing.status}`);
}

/** The names of an answer's headers, leaving out the transport's own (date, connection). */
function headerNames(answer: HttpAnswer): string {
  return Object.keys(answer.headers)
    .filter((name) => !['date', 'connection', 'keep-alive', 'transfer-encoding'].includes(name))
    .sort()
    .join(', ');
}

/**
 * The write contract, the same on both servers: create 201 with ETag "r1" and
 * the echo, replace 200 with the revision one up, If-Match (stale 412, a list,
 * `*`, on a missing id 412), a secret sent as the mask keeping the stored one
 * (decrypted or masked in the answer), a mask with nothing stored 400,
 * Salesforce's server-assigned instance kept by a replace that leaves it out,
 * the last verification cleared by every write, 404 for a missing tenant,
 * 400 for an unknown field. Works on new ids of tenant 2, deleted at the end,
 * so the read checks and the scenarios see the seed. Returns the header names
 * of a create and a replace answer, which must be the same on both servers.
 */
export async function checkWrites(
  server: RunningServer,
  tokens: TokenBook,
  admin: Connection,
  db: string,
  failures: string[],
): Promise<Record<string, string>> {
  const expect = (ok: boolean, what: string, answer?: HttpAnswer): void => {
    if (!ok)
      failures.push(
        `${server.name}: ${what}${answer === undefined ? '' : ` (answered ${answer.status}, ETag ${String(answer.headers.etag)}: ${answer.body.slice(0, 200)})`}`,
      );
  };
  const tid = tenantId(2);
  const revealing = { authorization: tokens.header(2), 'content-type': 'application/json' };
  const hiding = {
    authorization: `Bearer ${tokens.mint(tid, READ_WRITE)}`,
    'content-type': 'application/json',
  };
  const post = (id: string, body: unknown, headers: Record<string, string> = {}, as = revealing): Promise<HttpAnswer> =>
    httpCall(server.port, 'POST', `/tenants/${tid}/integrations/${id}`, { ...as, ...headers }, JSON.stringify(body));
  const get = (id: string): Promise<HttpAnswer> =>
    httpCall(server.port, 'GET', `/tenants/${tid}/integrations/${id}`, { authorization: tokens.header(2) });
  const is = (answer: HttpAnswer, status: number, etag: string, wire: Record<string, string>): boolean =>
    answer.status === status && answer.headers.etag === etag && answer.body === JSON.stringify(wire);
  const verification = async (id: string): Promise<RowDataPacket | undefined> => {
    const [rows] = await admin.query<RowDataPacket[]>(
      `SELECT verify_status, verify_message, verified_at FROM \`${db}\`.integrations WHERE tenant_id = ? AND id = ?`,
      [tid, id],
    );
    return rows[0];
  };
  const markVerified = (id: string): Promise<unknown> =>
    admin.query(
      `UPDATE \`${db}\`.integrations SET verify_status = 'ok', verify_message = 'bench', verified_at = NOW(3) WHERE tenant_id = ? AND id = ?`,
      [tid, id],
    );
  const cleared = (row: RowDataPacket | undefined): boolean =>
    row !== undefined && row.verify_status === null && row.verify_message === null && row.verified_at === null;

  const id = `check-${server.name}-${randomBytes(3).toString('hex')}`;
  const headers: Record<string, string> = {};
  try {
    const first = { type: 'twilio', account: `AC${'1'.repeat(32)}`, password: 'first-secret' };
    const second = { ...first, password: 'second-secret' };
    const created = await post(id, first);
    expect(is(created, 201, '"r1"', { id, ...first }), 'POST create: not 201 "r1" with the echo', created);
    headers.create = headerNames(created);
    const read = await get(id);
    expect(is(read, 200, '"r1"', { id, ...first }), 'GET after create differs', read);

    await markVerified(id);
    const replaced = await post(id, second);
    expect(is(replaced, 200, '"r2"', { id, ...second }), 'POST replace: not 200 "r2" with the echo', replaced);
    headers.replace = headerNames(replaced);
    expect(cleared(await verification(id)), 'POST replace left the last verification on the row');

    const stale = await post(id, first, { 'if-match': '"r1"' });
    expect(stale.status === 412, 'POST with a stale If-Match was not refused with 412', stale);
    const listed = await post(id, second, { 'if-match': 'W/"r9", "r2"' });
    expect(is(listed, 200, '"r3"', { id, ...second }), 'POST with If-Match naming the current revision in a list', listed);
    const anyRevision = await post(id, second, { 'if-match': '*' });
    expect(is(anyRevision, 200, '"r4"', { id, ...second }), 'POST with If-Match: * on an existing integration', anyRevision);
    const absent = await post(`${id}-absent`, first, { 'if-match': '*' });
    expect(absent.status === 412, 'POST with If-Match: * on a missing integration was not refused with 412', absent);

    // The mask keeps the stored secret: shown decrypted to a revealing token, masked otherwise; the last check is cleared.
    await markVerified(id);
    const kept = await post(id, { ...first, password: '********' });
    expect(is(kept, 200, '"r5"', { id, ...first, password: 'second-secret' }), 'POST with the mask (revealing token)', kept);
    expect(cleared(await verification(id)), 'POST with the mask left the last verification on the row');
    const keptHidden = await post(id, { ...first, password: '********' }, {}, hiding);
    expect(is(keptHidden, 200, '"r6"', { id, ...first, password: '********' }), 'POST with the mask (token without secrets)', keptHidden);
    const afterMask = await get(id);
    expect(
      is(afterMask, 200, '"r6"', { id, ...first, password: 'second-secret' }),
      'GET after the mask: stored secret not kept',
      afterMask,
    );
    const nothingStored = await post(`${id}-masked`, { ...first, password: '********' });
    expect(nothingStored.status === 400, 'POST create with the mask and nothing stored was not refused with 400', nothingStored);

    // Salesforce: `instance` is server-assigned, kept (and echoed) by a replace that leaves it out.
    const sf = {
      type: 'salesforce',
      'consumer-key': `3MVG9${'k'.repeat(40)}`,
      'consumer-secret': 'C0NSUMER',
      username: 'bench@example.com',
      password: 'pw-1',
      'secret-token': 'token-1',
    };
    const instance = 'https://bench.my.salesforce.com';
    const sfCreated = await post(`${id}-sf`, { ...sf, instance });
    expect(is(sfCreated, 201, '"r1"', { id: `${id}-sf`, ...sf, instance }), 'POST create salesforce with instance', sfCreated);
    const sfReplaced = await post(`${id}-sf`, { ...sf, password: 'pw-2' });
    expect(
      is(sfReplaced, 200, '"r2"', { id: `${id}-sf`, ...sf, password: 'pw-2', instance }),
      'POST replace salesforce without instance: instance not kept',
      sfReplaced,
    );
    const sfRead = await get(`${id}-sf`);
    expect(is(sfRead, 200, '"r2"', { id: `${id}-sf`, ...sf, password: 'pw-2', instance }), 'GET after the salesforce replace', sfRead);

    const unknownField = await post(id, { ...first, colour: 'blue' });
    expect(unknownField.status === 400, 'POST with an unknown field was not refused with 400', unknownField);
    const noTenant = await httpCall(
      server.port,
      'POST',
      '/tenants/tenant-missing/integrations/twilio',
      { authorization: `Bearer ${tokens.mint('tenant-missing', READ_WRITE_SECRETS)}`, 'content-type': 'application/json' },
      JSON.stringify(first),
    );
    expect(noTenant.status === 404, 'POST to a tenant that does not exist was not 404', noTenant);
  } finally {
    await admin.query(`DELETE FROM \`${db}\`.integrations WHERE tenant_id = ? AND id LIKE 'check-%'`, [tid]);
  }
  return headers;
}
