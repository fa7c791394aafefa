import { AUDIT_EVENT_EXAMPLE } from '../src/audit/audit.wire';
import { basicAuth, clientToken, createClient, form, postToken } from './helpers/clients';
import { SEED_EXAMPLES } from './helpers/seed-examples';
import { adminToken, bearer, createTenant, startTestApp, token, type TestApp } from './helpers/test-app';

/**
 * Issue 17: the request schemas of the document say what the service accepts.
 * The seed page's four examples and the original clients' collection form are
 * valid by the document and accepted by the service; every body in the table
 * is refused by the service for its shape, and invalid by the document.
 * (Every answer of every e2e suite is checked against the document by the hook
 * startTestApp installs; this file is about the request side.)
 */
const PATH_FORM = 'POST /tenants/{iid}/integrations/{id}';
const COLLECTION_FORM = 'POST /tenants/{iid}/integrations';
const PATCH = 'PATCH /tenants/{iid}/integrations/{id}';

/** The original page's requests, verbatim. */
const SEED: Record<string, Record<string, string>> = SEED_EXAMPLES;

/** The page's curl bodies that are JSON (the Salesforce one lacks a comma). */
const SEED_CURL: Record<string, Record<string, string>> = {
  twilio: { id: 'twilio', type: 'twilio', account: 'SID', password: 'Token' },
  sendgrid: { id: 'sendgrid', type: 'sendgrid', account: 'username', password: 'password' },
  datasift: { id: 'datasift', type: 'datasift', 'api-key': 'api-key', username: 'username' },
};

const TWILIO = { account: 'SID', password: 'Token' };

/**
 * [case, route, path id (path form and PATCH), body]: each refused by the service with a 400 for its shape.
 * Not here: refusals that depend on more than the body, which no request schema can know — a body
 * id other than the path's, a body without id or type on a path id that is not a vendor type, or a
 * PATCH whose fields or type are another vendor's than the stored integration's.
 */
const REFUSED: [string, string, string | undefined, unknown][] = [
  ['unknown field', PATH_FORM, 'twilio', { ...TWILIO, color: 'red' }],
  ['missing required field', PATH_FORM, 'twilio', { account: 'SID' }],
  ['number for a string', PATH_FORM, 'twilio', { account: 42, password: 'Token' }],
  ['null for a required field', PATH_FORM, 'twilio', { account: null, password: 'Token' }],
  ['null for an optional field', PATH_FORM, 'salesforce', { ...SEED.salesforce, instance: null }],
  ['empty string', PATH_FORM, 'datasift', { username: '', 'api-key': 'k' }],
  ['string over the maximum', PATH_FORM, 'twilio', { account: 'a'.repeat(513), password: 'Token' }],
  ['secret over the maximum', PATH_FORM, 'twilio', { account: 'SID', password: 'p'.repeat(2049) }],
  ['unknown type', PATH_FORM, 'fax', { type: 'fax', account: 'SID' }],
  ['type not a string', PATH_FORM, 'twilio', { type: 7, ...TWILIO }],
  ["another vendor's fields", PATH_FORM, 'twilio', { type: 'twilio', username: 'u', 'api-key': 'k' }],
  ["no type, and an id that is not a vendor's", PATH_FORM, 'twilio-backup', { id: 'twilio-backup', ...TWILIO }],
  ['id outside the id rules', PATH_FORM, 'twilio', { id: 'bad id!', ...TWILIO }],
  ['an array', PATH_FORM, 'twilio', [TWILIO]],
  ['a string', PATH_FORM, 'twilio', 'twilio'],
  ['collection form without id', COLLECTION_FORM, undefined, { type: 'twilio', ...TWILIO }],
  ["collection form, no type, an id that is not a vendor's", COLLECTION_FORM, undefined, { id: 'my-twilio', ...TWILIO }],
  ['collection form, unknown field', COLLECTION_FORM, undefined, { id: 'twilio', ...TWILIO, region: 'eu' }],
  ['PATCH: unknown field', PATCH, 'salesforce', { colour: 'red' }],
  ['PATCH: null for a required field', PATCH, 'salesforce', { password: null }],
  ['PATCH: number for a string', PATCH, 'salesforce', { username: 5 }],
  ['PATCH: empty string', PATCH, 'salesforce', { username: '' }],
  ['PATCH: null type', PATCH, 'salesforce', { type: null }],
  ['PATCH: an array', PATCH, 'salesforce', [{ username: 'x' }]],
  ['tenant: unknown field', 'POST /tenants', undefined, { id: 'x', name: 'X', extra: 1 }],
  ['tenant: no name', 'POST /tenants', undefined, { id: 'x' }],
  ['tenant: number id', 'POST /tenants', undefined, { id: 5, name: 'X' }],
  ['tenant rename: empty name', 'PATCH /tenants/{iid}', undefined, { name: '' }],
];

describe('OpenAPI request schemas (issue 17)', () => {
  let t: TestApp;
  let tenant: string;
  const admin = bearer(adminToken());

  beforeAll(async () => {
    t = await startTestApp();
    tenant = await createTenant(t, 'contract');
    const seeded = await t
      .http()
      .post(`/tenants/${tenant}/integrations/salesforce`)
      .set(...admin)
      .send(SEED.salesforce);
    expect(seeded.status).toBe(201);
  });
  afterAll(() => t.close());

  const documentErrors = (route: string, body: unknown): string | undefined => {
    const [method, template] = route.split(' ');
    return t.contract.validateRequestBody(method, template, body);
  };

  const send = (route: string, pathId: string | undefined, body: unknown, iid = tenant) => {
    const [method, template] = route.split(' ');
    const url = template.replace('{iid}', iid).replace('{id}', pathId ?? '');
    const request = method === 'PATCH' ? t.http().patch(url) : t.http().post(url);
    return request
      .set(...admin)
      .set('Content-Type', 'application/json; charset=utf-8')
      .send(JSON.stringify(body));
  };

  it.each(Object.entries(SEED))(
    "validates the seed's %s example, as written, and the service accepts it (path form)",
    async (vendor, body) => {
      expect(documentErrors(PATH_FORM, body)).toBeUndefined();
      const response = await send(PATH_FORM, vendor, body, await createTenant(t, 'seed'));
      expect(response.status).toBe(201);
    },
  );

  it.each(Object.entries(SEED))(
    "validates the seed's %s example in the original clients' collection form, and the service accepts it",
    async (_vendor, body) => {
      expect(documentErrors(COLLECTION_FORM, body)).toBeUndefined();
      const response = await send(COLLECTION_FORM, undefined, body, await createTenant(t, 'seed-collection'));
      expect(response.status).toBe(201);
    },
  );

  it.each(Object.entries(SEED_CURL))("validates the seed's %s curl body (with type) in both forms", async (vendor, body) => {
    expect(documentErrors(PATH_FORM, body)).toBeUndefined();
    expect(documentErrors(COLLECTION_FORM, body)).toBeUndefined();
    expect((await send(PATH_FORM, vendor, body, await createTenant(t, 'curl'))).status).toBe(201);
  });

  it('validates bodies the service accepts beyond the seed: another id with a type, no id or type on the path form, the mask, PATCHes', async () => {
    const accepted: [string, string | undefined, unknown][] = [
      [PATH_FORM, 'salesforce-eu', { ...SEED.salesforce, id: 'salesforce-eu' }],
      [PATH_FORM, 'twilio', TWILIO],
      [PATH_FORM, 'backup', { type: 'sendgrid', account: 'a', password: 'b' }],
      [COLLECTION_FORM, undefined, { id: 'pusher-main', type: 'pusher', key: 'k', secret: 's', 'app-id': '123' }],
      [PATH_FORM, 'salesforce', { ...SEED.salesforce, password: '********', instance: 'https://na1.salesforce.com' }],
      [PATCH, 'salesforce', { username: 'ops@userevents.com' }],
      [PATCH, 'salesforce', { instance: null }],
      [PATCH, 'salesforce', { id: null, type: 'salesforce', password: '********' }],
      [PATCH, 'salesforce', {}],
    ];
    for (const [route, pathId, body] of accepted) {
      const response = await send(route, pathId, body);
      expect({ route, body, status: response.status, errors: documentErrors(route, body) }).toEqual({
        route,
        body,
        status: route === PATCH ? 200 : expect.any(Number),
        errors: undefined,
      });
      expect(response.status).toBeLessThan(300);
    }
  });

  it.each(REFUSED)('%s: refused by the service, invalid by the document', async (_case, route, pathId, body) => {
    const response = await send(route, pathId, body);
    expect(response.status).toBe(400);
    expect(documentErrors(route, body)).toEqual(expect.any(String));
  });

  /** The messages the document gives as examples of one status of one operation. */
  const exampleMessages = (route: string, status: number): string[] => {
    const [method, template] = route.split(' ');
    const operation = t.contract.document.paths[template][method.toLowerCase() as 'get'];
    const response = operation?.responses[String(status)] as {
      content?: Record<string, { examples?: Record<string, { value: { error: string } }> }>;
    };
    return Object.values(response?.content?.['application/json']?.examples ?? {}).map((example) => example.value.error);
  };

  it("gives the real messages as the error examples (ids as in the examples: tenant 'acme', integration 'twilio')", async () => {
    // A tenant of its own, without a Twilio integration.
    const iid = await createTenant(t, 'examples');
    await send(PATH_FORM, 'salesforce', SEED.salesforce, iid);
    const expired = bearer(token({ scope: 'platform:admin' }, { expiresIn: -120 }));
    const badlySigned = bearer(token({ scope: 'platform:admin' }, {}, 'another-secret-that-is-at-least-32-bytes-long'));
    const foreign = bearer(token({ scope: 'integrations:read integrations:write', tenants: ['acme'] }));
    const readOnly = bearer(token({ scope: 'integrations:read', tenants: [iid] }));
    const json = (body: unknown) => JSON.stringify(body);
    const cases: [string, number, () => Promise<{ status: number; body: { error: string } }>][] = [
      [
        'GET /tenants/{iid}/integrations/{id}',
        404,
        () =>
          t
            .http()
            .get(`/tenants/${iid}/integrations/twilio`)
            .set(...admin),
      ],
      [
        'GET /tenants/{iid}/integrations/{id}',
        404,
        () =>
          t
            .http()
            .get(`/tenants/${t.uniqueId('gone')}/integrations/twilio`)
            .set(...admin),
      ],
      [
        'GET /tenants/{iid}/integrations/{id}',
        400,
        () =>
          t
            .http()
            .get(`/tenants/bad%20id/integrations/twilio`)
            .set(...admin),
      ],
      [
        'GET /tenants/{iid}/integrations/{id}',
        400,
        () =>
          t
            .http()
            .get(`/tenants/${iid}/integrations/bad%20id`)
            .set(...admin),
      ],
      ['GET /tenants/{iid}/integrations/{id}', 401, () => t.http().get(`/tenants/${iid}/integrations/twilio`)],
      [
        'GET /tenants/{iid}/integrations/{id}',
        401,
        () =>
          t
            .http()
            .get(`/tenants/${iid}/integrations/twilio`)
            .set(...expired),
      ],
      [
        'GET /tenants/{iid}/integrations/{id}',
        401,
        () =>
          t
            .http()
            .get(`/tenants/${iid}/integrations/twilio`)
            .set(...badlySigned),
      ],
      [
        'GET /tenants/{iid}/integrations/{id}',
        403,
        () =>
          t
            .http()
            .get(`/tenants/${iid}/integrations/twilio`)
            .set(...foreign),
      ],
      [
        'GET /tenants',
        400,
        () =>
          t
            .http()
            .get('/tenants?limit=0')
            .set(...admin),
      ],
      [
        'POST /tenants/{iid}/integrations/{id}',
        403,
        () =>
          t
            .http()
            .post(`/tenants/${iid}/integrations/twilio`)
            .set(...readOnly)
            .send(TWILIO),
      ],
      [
        'POST /tenants/{iid}/integrations/{id}',
        400,
        () =>
          t
            .http()
            .post(`/tenants/${iid}/integrations/twilio`)
            .set(...admin)
            .send({ ...TWILIO, color: 'red' }),
      ],
      [
        'POST /tenants/{iid}/integrations/{id}',
        400,
        () =>
          t
            .http()
            .post(`/tenants/${iid}/integrations/twilio`)
            .set(...admin)
            .send({ account: 'SID' }),
      ],
      [
        'POST /tenants/{iid}/integrations/{id}',
        400,
        () =>
          t
            .http()
            .post(`/tenants/${iid}/integrations/twilio`)
            .set(...admin)
            .send({ id: 'sendgrid', ...TWILIO }),
      ],
      [
        'POST /tenants/{iid}/integrations/{id}',
        400,
        () =>
          t
            .http()
            .post(`/tenants/${iid}/integrations/salesforce-eu`)
            .set(...admin)
            .send(TWILIO),
      ],
      [
        'POST /tenants/{iid}/integrations/{id}',
        400,
        () =>
          t
            .http()
            .post(`/tenants/${iid}/integrations/twilio?dry-run=yes`)
            .set(...admin)
            .send(TWILIO),
      ],
      [
        'POST /tenants/{iid}/integrations/{id}',
        400,
        () =>
          t
            .http()
            .post(`/tenants/${iid}/integrations/twilio`)
            .set(...admin)
            .set('Content-Type', 'application/json')
            .send('{"account":'),
      ],
      [
        'POST /tenants/{iid}/integrations/{id}',
        400,
        () =>
          t
            .http()
            .post(`/tenants/${iid}/integrations/twilio`)
            .set(...admin)
            .set('Content-Type', 'application/json')
            .send(''),
      ],
      [
        'POST /tenants/{iid}/integrations/{id}',
        415,
        () =>
          t
            .http()
            .post(`/tenants/${iid}/integrations/twilio`)
            .set(...admin)
            .set('Content-Type', 'text/plain')
            .send(json(TWILIO)),
      ],
      [
        'PATCH /tenants/{iid}/integrations/{id}',
        400,
        () =>
          t
            .http()
            .patch(`/tenants/${iid}/integrations/salesforce`)
            .set(...admin)
            .send({ type: 'twilio' }),
      ],
      // A DELETE with a body: parsed like any other.
      [
        'DELETE /tenants/{iid}/integrations/{id}',
        415,
        () =>
          t
            .http()
            .delete(`/tenants/${iid}/integrations/twilio`)
            .set(...admin)
            .set('Content-Type', 'text/plain')
            .send('x'),
      ],
      [
        'DELETE /tenants/{iid}',
        400,
        () =>
          t
            .http()
            .delete(`/tenants/${iid}`)
            .set(...admin)
            .set('Content-Type', 'application/json')
            .send('{'),
      ],
      [
        'POST /tenants',
        409,
        async () => {
          const id = t.uniqueId('taken');
          await t
            .http()
            .post('/tenants')
            .set(...admin)
            .send({ id, name: 'Taken' });
          return t
            .http()
            .post('/tenants')
            .set(...admin)
            .send({ id, name: 'Again' });
        },
      ],
      [
        'POST /tenants',
        400,
        () =>
          t
            .http()
            .post('/tenants')
            .set(...admin)
            .send({ id: t.uniqueId('x'), name: 'X', extra: 1 }),
      ],
      [
        'POST /tenants',
        400,
        () =>
          t
            .http()
            .post('/tenants')
            .set(...admin)
            .send({ id: t.uniqueId('x'), name: '' }),
      ],
      // Issue 15: the tenant's verify-interval, and the verification history.
      ['PATCH /tenants/{iid}', 400, () => t.http().patch(`/tenants/${iid}`).set(...admin).send({})],
      ['PATCH /tenants/{iid}', 400, () => t.http().patch(`/tenants/${iid}`).set(...admin).send({ 'verify-interval': 'weekly' })],
      [
        'GET /tenants/{iid}/integrations/{id}/verification/history',
        404,
        async () => {
          const empty = await createTenant(t, 'no-integrations');
          return t.http().get(`/tenants/${empty}/integrations/twilio/verification/history`).set(...admin);
        },
      ],
    ];
    const failures: string[] = [];
    for (const [route, status, request] of cases) {
      const response = await request();
      // The examples name tenant 'acme' and integration 'twilio'; this run's ids stand in their place.
      const message = String(response.body.error).replace(/'[A-Za-z0-9._-]*-[a-z0-9]{6}-\d+'/g, "'acme'");
      if (response.status !== status || !exampleMessages(route, status).includes(message)) {
        failures.push(
          `${route} ${status}: got ${response.status} ${JSON.stringify(message)}; examples: ${JSON.stringify(exampleMessages(route, status))}`,
        );
      }
    }
    expect(failures).toEqual([]);
  });

  it('gives the real messages as the examples of the webhook routes (issue 15)', async () => {
    const iid = await createTenant(t, 'examples-webhooks');
    const hooks = `/tenants/${iid}/webhooks`;
    const reader = bearer(token({ scope: 'webhooks:read', tenants: [iid] }));
    const create = (body: Record<string, unknown>) =>
      t
        .http()
        .post(hooks)
        .set(...admin)
        .send({ url: 'https://hooks.example.com/x', events: ['integration.created'], ...body });
    const cases: [string, number, () => Promise<{ status: number; body: { error: string } }>][] = [
      ['POST /tenants/{iid}/webhooks', 400, () => create({ url: 'ftp://hooks.example.com/integrations' })],
      ['POST /tenants/{iid}/webhooks', 400, () => create({ url: 'https://user:password@hooks.example.com/integrations' })],
      ['POST /tenants/{iid}/webhooks', 400, () => create({ url: 'http://10.0.0.5/integrations' })],
      ['POST /tenants/{iid}/webhooks', 400, () => create({ events: ['integration.exploded'] })],
      ['POST /tenants/{iid}/webhooks', 400, () => create({ events: undefined })],
      ['POST /tenants/{iid}/webhooks', 400, () => create({ secret: 'whsec_x' })],
      [
        'POST /tenants/{iid}/webhooks',
        403,
        () =>
          t
            .http()
            .post(hooks)
            .set(...reader)
            .send({ url: 'https://hooks.example.com/x', events: ['integration.created'] }),
      ],
      [
        'POST /tenants/{iid}/webhooks',
        404,
        () =>
          t
            .http()
            .post(`/tenants/${t.uniqueId('gone')}/webhooks`)
            .set(...admin)
            .send({ url: 'https://h.example.com', events: ['integration.created'] }),
      ],
      [
        'GET /tenants/{iid}/webhooks/{id}',
        404,
        () =>
          t
            .http()
            .get(`${hooks}/wh-5f0c2a9d81e34b7a6c0d1e2f`)
            .set(...admin),
      ],
      [
        'GET /tenants/{iid}/webhooks/{id}',
        400,
        () =>
          t
            .http()
            .get(`${hooks}/a%20b`)
            .set(...admin),
      ],
      [
        'PATCH /tenants/{iid}/webhooks/{id}',
        403,
        () =>
          t
            .http()
            .patch(`${hooks}/wh-5f0c2a9d81e34b7a6c0d1e2f`)
            .set(...reader)
            .send({}),
      ],
      [
        'GET /tenants/{iid}/webhooks',
        403,
        () =>
          t
            .http()
            .get(hooks)
            .set(...bearer(token({ scope: 'integrations:read', tenants: [iid] }))),
      ],
    ];
    const created = await create({});
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    cases.push([
      'POST /tenants/{iid}/webhooks/{id}/deliveries/{deliveryId}/redeliver',
      404,
      () =>
        t
          .http()
          .post(`${hooks}/${id}/deliveries/evt_0f1e2d3c4b5a69788796a5b4/redeliver`)
          .set(...admin),
    ]);
    const failures: string[] = [];
    for (const [route, status, request] of cases) {
      const response = await request();
      const message = response.body.error
        .replace(/'[A-Za-z0-9._-]*-[a-z0-9]{6}-\d+'/g, "'acme'")
        .replace(/wh-[0-9a-f]{24}/g, 'wh-5f0c2a9d81e34b7a6c0d1e2f');
      if (response.status !== status || !exampleMessages(route, status).includes(message)) {
        failures.push(
          `${route} ${status}: got ${response.status} ${JSON.stringify(message)}; examples: ${JSON.stringify(exampleMessages(route, status))}`,
        );
      }
    }
    expect(failures).toEqual([]);
  });

  it("gives the real messages as the examples of the API-client routes and the token endpoint's RFC 6749 answers (issue 13)", async () => {
    const iid = await createTenant(t, 'examples-clients');
    const reader = await createClient(t, iid, 'integrations:read');
    const basic = { authorization: basicAuth(reader.id, reader.secret) };
    const grant = { grant_type: 'client_credentials' };
    const clients = `/tenants/${iid}/api-clients`;
    const json = (payload: string, headers: Record<string, string> = basic) =>
      t.app.inject({ method: 'POST', url: '/token', headers: { ...headers, 'content-type': 'application/json' }, payload });
    // A client whose secret was replaced, and whose overlap has ended.
    const rotated = await createClient(t, iid, 'integrations:read');
    expect(
      (
        await t
          .http()
          .post(`${clients}/${rotated.id}/secret`)
          .set(...admin)
      ).status,
    ).toBe(200);
    const past = new Date(Date.now() - 60_000).toISOString().replace('T', ' ').replace('Z', '');
    await t.db.query('UPDATE api_clients SET previous_secret_expires_at = ? WHERE id = ?', [past, rotated.id]);
    // A token of a client deleted since.
    const deleted = await createClient(t, iid, 'integrations:read');
    const revokedToken = await clientToken(t, deleted);
    expect(
      (
        await t
          .http()
          .delete(`${clients}/${deleted.id}`)
          .set(...admin)
      ).status,
    ).toBe(204);

    type Answer = { status: number; body: Record<string, string> };
    const viaInject = async (call: Promise<{ statusCode: number; json: () => unknown }>): Promise<Answer> => {
      const response = await call;
      return { status: response.statusCode, body: response.json() as Record<string, string> };
    };
    const create = (jwt: string, body: unknown): Promise<Answer> =>
      t
        .http()
        .post(clients)
        .set(...bearer(jwt))
        .send(body as object);
    const manager = token({ scope: 'clients:write integrations:read', tenants: [iid] });
    const cases: [string, number, () => Promise<Answer>][] = [
      ['POST /tenants/{iid}/api-clients', 400, () => create(adminToken(), { name: 'x', scope: 'integrations:delete' })],
      ['POST /tenants/{iid}/api-clients', 400, () => create(adminToken(), { name: 'x', scope: 'platform:admin' })],
      ['POST /tenants/{iid}/api-clients', 400, () => create(adminToken(), { scope: 'integrations:read' })],
      ['POST /tenants/{iid}/api-clients', 400, () => create(adminToken(), { name: 'x', scope: 'integrations:read', extra: 1 })],
      ['POST /tenants/{iid}/api-clients', 403, () => create(manager, { name: 'x', scope: 'integrations:secrets' })],
      [
        'POST /tenants/{iid}/api-clients',
        403,
        () => create(token({ scope: 'integrations:read', tenants: [iid] }), { name: 'x', scope: 'integrations:read' }),
      ],
      [
        'POST /tenants/{iid}/api-clients',
        404,
        () =>
          t
            .http()
            .post(`/tenants/${t.uniqueId('gone')}/api-clients`)
            .set(...admin)
            .send({ name: 'x', scope: 'integrations:read' }),
      ],
      [
        'GET /tenants/{iid}/api-clients/{clientId}',
        404,
        () =>
          t
            .http()
            .get(`${clients}/ic-5f0c2a9d81e34b7a6c0d1e2f`)
            .set(...admin),
      ],
      [
        'GET /tenants/{iid}/api-clients/{clientId}',
        400,
        () =>
          t
            .http()
            .get(`${clients}/a%20b`)
            .set(...admin),
      ],
      [
        'GET /tenants/{iid}/integrations',
        401,
        () =>
          t
            .http()
            .get(`/tenants/${iid}/integrations`)
            .set(...bearer(revokedToken)),
      ],
      ['POST /token', 400, () => viaInject(json(JSON.stringify(grant)))],
      ['POST /token', 400, () => viaInject(json('{"grant_type":'))],
      ['POST /token', 400, () => viaInject(json(''))],
      ['POST /token', 400, () => viaInject(postToken(t, {}, basic))],
      [
        'POST /token',
        400,
        () =>
          viaInject(
            t.app.inject({
              method: 'POST',
              url: '/token',
              headers: { ...basic, 'content-type': 'application/x-www-form-urlencoded' },
              payload: `${form(grant)}&scope=integrations:read&scope=integrations:read`,
            }),
          ),
      ],
      ['POST /token', 400, () => viaInject(postToken(t, { ...grant, client_secret: reader.secret }, basic))],
      ['POST /token', 400, () => viaInject(postToken(t, { ...grant, client_id: 'ic-other' }, basic))],
      ['POST /token', 400, () => viaInject(postToken(t, { grant_type: 'password' }, basic))],
      ['POST /token', 400, () => viaInject(postToken(t, { ...grant, scope: 'integrations:write' }, basic))],
      ['POST /token', 400, () => viaInject(postToken(t, { ...grant, scope: '   ' }, basic))],
      // The secret the client had before its rotation.
      ['POST /token', 400, () => viaInject(postToken(t, grant, { authorization: basicAuth(rotated.id, rotated.secret) }))],
      ['POST /token', 401, () => viaInject(postToken(t, grant, { authorization: basicAuth(reader.id, `${reader.secret}x`) }))],
      ['POST /token', 401, () => viaInject(postToken(t, grant))],
      ['POST /token', 401, () => viaInject(postToken(t, grant, { authorization: `Basic ${Buffer.from(reader.id).toString('base64')}` }))],
    ];
    /** The messages, or the RFC 6749 descriptions, the document gives as examples of one status of one operation. */
    const examples = (route: string, status: number): string[] => {
      const [method, template] = route.split(' ');
      const operation = t.contract.document.paths[template][method.toLowerCase() as 'get'];
      const response = operation?.responses[String(status)] as {
        content?: Record<string, { examples?: Record<string, { value: Record<string, string> }> }>;
      };
      return Object.values(response?.content?.['application/json']?.examples ?? {}).map(
        (example) => example.value.error_description ?? example.value.error,
      );
    };
    const failures: string[] = [];
    for (const [route, status, request] of cases) {
      const response = await request();
      const text = String(response.body.error_description ?? response.body.error)
        .replace(/'[A-Za-z0-9._-]*-[a-z0-9]{6}-\d+'/g, "'acme'")
        .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/, '2026-11-30T10:00:00.000Z');
      if (response.status !== status || !examples(route, status).includes(text)) {
        failures.push(
          `${route} ${status}: got ${response.status} ${JSON.stringify(text)}; examples: ${JSON.stringify(examples(route, status))}`,
        );
      }
    }
    expect(failures).toEqual([]);
  });

  describe('the check every e2e answer goes through (test/helpers/openapi-contract.ts)', () => {
    const twilio = { id: 'twilio', type: 'twilio', account: 'SID', password: '********' };
    const answer = (overrides: Partial<Parameters<typeof t.contract.check>[0]> = {}) =>
      t.contract.check({
        method: 'GET',
        url: '/tenants/acme/integrations/twilio',
        requestBody: undefined,
        status: 200,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          etag: '"r1"',
          'x-request-id': 'r-12345678',
          'cache-control': 'no-store',
        },
        payload: JSON.stringify(twilio),
        ...overrides,
      });

    it('passes a documented answer', () => {
      expect(answer()).toEqual([]);
    });

    it("passes a documented answer under the document's second server, /1.0 (issue 13)", () => {
      expect(answer({ url: '/1.0/tenants/acme/integrations/twilio' })).toEqual([]);
    });

    const issued = {
      method: 'POST',
      url: '/token',
      requestContentType: 'application/x-www-form-urlencoded',
      requestBody: { grant_type: 'client_credentials', scope: 'integrations:read' },
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'x-request-id': 'r-12345678',
        'cache-control': 'no-store',
        pragma: 'no-cache',
      },
      payload: JSON.stringify({ access_token: 'eyJ.x.y', token_type: 'Bearer', expires_in: 900, scope: 'integrations:read' }),
    };

    it('passes an accepted form request and its answer (the token endpoint)', () => {
      expect(answer(issued)).toEqual([]);
    });

    /** The audit export: the media type's schema is the body's (text), x-itemSchema each line's. */
    const exported = {
      url: '/tenants/acme/audit',
      headers: { 'content-type': 'application/x-ndjson; charset=utf-8', 'x-request-id': 'r-12345678', 'cache-control': 'no-store' },
      payload: `${JSON.stringify(AUDIT_EVENT_EXAMPLE)}\n${JSON.stringify({ ...AUDIT_EVENT_EXAMPLE, seq: 43 })}\n`,
    };

    it('passes an NDJSON export, each line an AuditEvent', () => {
      expect(answer(exported)).toEqual([]);
    });

    it.each([
      ['an undocumented status', { status: 418 }, /status 418 is not documented/],
      ['an undocumented field', { payload: JSON.stringify({ ...twilio, region: 'eu' }) }, /must NOT have additional properties/],
      ['a missing required field', { payload: JSON.stringify({ id: 'twilio', type: 'twilio', account: 'SID' }) }, /does not match/],
      [
        'an undocumented header',
        { headers: { 'content-type': 'application/json', etag: '"r1"', 'x-request-id': 'r-12345678', 'x-debug': '1' } },
        /header x-debug is not documented/,
      ],
      [
        'a missing required header',
        { headers: { 'content-type': 'application/json', 'x-request-id': 'r-12345678' } },
        /header etag is required/,
      ],
      [
        'a header of the wrong form',
        { headers: { 'content-type': 'application/json', etag: 'r1', 'x-request-id': 'r-12345678' } },
        /header etag/,
      ],
      [
        'a body where the document has none',
        { method: 'DELETE', status: 204, headers: { 'x-request-id': 'r-12345678' } },
        /a body where the document has none/,
      ],
      ['an undocumented route', { url: '/tenants/acme/secrets', status: 200 }, /no such operation/],
      ['a path under no server', { url: '/2.0/tenants/acme/integrations/twilio' }, /no such operation/],
      ['an accepted form request off its schema', { ...issued, requestBody: { grant_type: 'password' } }, /request body .* does not match/],
      ['a form request sent as JSON', { ...issued, requestContentType: 'application/json' }, /documents no application\/json body/],
      [
        'an answer without a header the document requires',
        { ...issued, headers: { ...issued.headers, pragma: undefined } },
        /header pragma is required/,
      ],
      [
        'an error body off its schema',
        {
          status: 404,
          payload: JSON.stringify({ error: 'gone', code: 'GONE', requestId: 'r' }),
          headers: { 'content-type': 'application/json', 'x-request-id': 'r-12345678' },
        },
        /code must be equal to one of the allowed values/,
      ],
      ['an accepted request off its schema', { method: 'PATCH', requestBody: { colour: 'red' } }, /request body/],
      [
        'an NDJSON line off the AuditEvent schema',
        { ...exported, payload: `${JSON.stringify({ ...AUDIT_EVENT_EXAMPLE, seq: 'x' })}\n` },
        /NDJSON line 1 .* does not match/,
      ],
      ['an NDJSON line that is not JSON', { ...exported, payload: '{"seq":\n' }, /NDJSON line 1 is not JSON/],
      [
        'an NDJSON export without its last newline',
        { ...exported, payload: JSON.stringify(AUDIT_EVENT_EXAMPLE) },
        /does not end with a newline/,
      ],
    ] as const)('fails %s', (_case, overrides, problem) => {
      expect(answer(overrides).join('\n')).toMatch(problem);
    });
  });
});
