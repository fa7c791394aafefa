import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { ValidationFailedError } from '../common/errors/domain-errors';
import { HostileInputPipe } from '../common/pipes/hostile-input.pipe';
import { IntegrationBodyPipe } from './integration-body.pipe';
import { IntegrationBodyValidator, type IntegrationInput } from './integration-body.validator';
import { allVendors, findVendor, type Vendor } from './vendors/registry';

const KNOWN_TYPES = 'known types: salesforce, twilio, sendgrid, datasift, pusher, urban-airship';

/** The seed page's request bodies (shared/seed/integration-resources.md), verbatim. */
const SEED_REQUESTS: [string, Record<string, string>][] = [
  [
    'salesforce',
    {
      id: 'salesforce',
      type: 'salesforce',
      'consumer-key': 'consumerkey',
      'consumer-secret': 'consumersecret',
      username: 'dev@userevents.com',
      'secret-token': 'secret-token',
      password: 'password',
    },
  ],
  ['twilio', { id: 'twilio', account: 'SID', password: 'Token' }],
  ['sendgrid', { id: 'sendgrid', account: 'username', password: 'password' }],
  ['datasift', { id: 'datasift', 'api-key': 'api-key', username: 'username' }],
  // The curl forms, which also send `type`.
  ['twilio', { id: 'twilio', type: 'twilio', account: 'SID', password: 'Token' }],
  ['sendgrid', { id: 'sendgrid', type: 'sendgrid', account: 'username', password: 'password' }],
  ['datasift', { id: 'datasift', type: 'datasift', 'api-key': 'api-key', username: 'username' }],
];

/** A body with these own keys, as Fastify's JSON parser builds it (`__proto__` included, as an own key). */
const parsed = (json: string): Record<string, unknown> => JSON.parse(json) as Record<string, unknown>;

/** `value` inside `levels` arrays. */
function nestedArrays(levels: number, value: unknown = 1): unknown {
  let node = value;
  for (let i = 0; i < levels; i++) node = [node];
  return node;
}

/** The vendor fields of a body, as the validated input carries them. */
function vendorFieldsOf(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([key]) => key !== 'id' && key !== 'type'));
}

describe('IntegrationBodyPipe (with IntegrationBodyValidator, from DI)', () => {
  let pipe: IntegrationBodyPipe;
  let validator: IntegrationBodyValidator;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ providers: [HostileInputPipe, IntegrationBodyValidator, IntegrationBodyPipe] }).compile();
    pipe = moduleRef.get(IntegrationBodyPipe);
    validator = moduleRef.get(IntegrationBodyValidator);
  });

  const accept = (body: unknown, pathId?: string): Promise<IntegrationInput> => pipe.transform({ body, pathId });

  /** What the client sees of a refusal: the status of ValidationFailedError (400), its message and details. */
  async function refusal(body: unknown, pathId?: string): Promise<Pick<ValidationFailedError, 'status' | 'message' | 'details'>> {
    const error = await pipe.transform({ body, pathId }).then(
      (input) => new Error(`accepted as ${input.vendor.type} ${input.id}`),
      (rejected: unknown) => rejected,
    );
    expect(error).toBeInstanceOf(ValidationFailedError);
    const { status, message, details } = error as ValidationFailedError;
    return { status, message, details };
  }

  /** A refusal whose message is also its one detail (id, type and body-shape problems). */
  const alone = (field: string, message: string) => ({ status: 400, message, details: [{ field, message }] });

  describe("the seed's examples", () => {
    it.each(SEED_REQUESTS)('accepts the %s request as the seed sends it, in the path form and the body-id form', async (type, body) => {
      const expected = { id: body.id, vendor: findVendor(type), fields: vendorFieldsOf(body) };
      expect(await accept(body, body.id)).toEqual(expected);
      expect(await accept(body, undefined)).toEqual(expected);
      expect((await accept(body, body.id)).vendor).toBe(findVendor(type));
    });

    it('accepts a client-sent Salesforce instance (the initial value of a server-assigned field)', async () => {
      const body = { ...SEED_REQUESTS[0][1], instance: 'instance-id' };
      expect((await accept(body, 'salesforce')).fields.instance).toBe('instance-id');
    });
  });

  describe('the vendors outside the seed', () => {
    it('accepts Pusher with and without its optional app-id, under an id that is not a type', async () => {
      expect(await accept({ type: 'pusher', key: 'app-key', secret: 'app-secret' }, 'pusher-eu')).toEqual({
        id: 'pusher-eu',
        vendor: findVendor('pusher'),
        fields: { key: 'app-key', secret: 'app-secret' },
      });
      expect((await accept({ id: 'pusher', key: 'k', secret: 's', 'app-id': '123456' }, undefined)).fields).toEqual({
        key: 'k',
        secret: 's',
        'app-id': '123456',
      });
    });

    it('accepts Urban Airship without a type, its id being the type', async () => {
      expect(await accept({ username: 'app-key', password: 'master-secret' }, 'urban-airship')).toEqual({
        id: 'urban-airship',
        vendor: findVendor('urban-airship'),
        fields: { username: 'app-key', password: 'master-secret' },
      });
    });
  });

  describe.each(allVendors().map((vendor): [string, Vendor] => [vendor.type, vendor]))('every vendor: %s', (_type, vendor) => {
    const valid = { ...vendor.example };
    const id = valid.id;
    const required = vendor.fields.filter((f) => f.required);
    const optional = vendor.fields.filter((f) => !f.required);

    it('accepts its registry example, which is also its Swagger example', async () => {
      expect(await accept(valid, id)).toEqual({ id, vendor, fields: vendorFieldsOf(valid) });
    });

    it('refuses an unknown field, naming it', async () => {
      expect(await refusal({ ...valid, colour: 'red' }, id)).toEqual({
        status: 400,
        message: 'Validation failed (unknown field: colour)',
        details: [{ field: 'colour', message: 'property colour should not exist' }],
      });
    });

    it.each(required.map((f) => [f.name, f.maxLength]))('refuses a body without %s, or with it null', async (name, max) => {
      const without: Record<string, unknown> = { ...valid };
      delete without[name];
      const expected = {
        status: 400,
        message: `Validation failed (missing or invalid: ${name})`,
        details: [{ field: name, message: `${name} must be a string; ${name} should not be empty; ${name} must be shorter than or equal to ${max} characters` }],
      };
      expect(await refusal(without, id)).toEqual(expected);
      expect(await refusal({ ...valid, [name]: null }, id)).toEqual(expected);
    });

    it.each(vendor.fields.map((f) => [f.name, f.maxLength]))('refuses %s of the wrong JSON type, empty, or too long', async (name, max) => {
      const notString = {
        status: 400,
        message: `Validation failed (missing or invalid: ${name})`,
        details: [{ field: name, message: `${name} must be a string; ${name} must be shorter than or equal to ${max} characters` }],
      };
      for (const value of [42, true, {}, { nested: 'x' }, [], ['a']]) expect(await refusal({ ...valid, [name]: value }, id)).toEqual(notString);
      expect(await refusal({ ...valid, [name]: '' }, id)).toEqual({
        status: 400,
        message: `Validation failed (missing or invalid: ${name})`,
        details: [{ field: name, message: `${name} should not be empty` }],
      });
      expect(await refusal({ ...valid, [name]: 'x'.repeat(max + 1) }, id)).toEqual({
        status: 400,
        message: `Validation failed (${name})`,
        details: [{ field: name, message: `${name} must be shorter than or equal to ${max} characters` }],
      });
    });

    it.each(vendor.fields.map((f) => [f.name, f.maxLength]))('counts the length of %s as class-validator does', async (name, max) => {
      // A surrogate pair counts once, a presentation selector after a character not at all; a blank is not empty.
      for (const value of [' ', 'x'.repeat(max), '😀'.repeat(max), '☺\uFE0F'.repeat(max), '********']) {
        expect((await accept({ ...valid, [name]: value }, id)).fields[name]).toBe(value);
      }
      for (const value of ['😀'.repeat(max + 1), `${'☺\uFE0F'.repeat(max)}x`]) {
        expect((await refusal({ ...valid, [name]: value }, id)).details).toEqual([
          { field: name, message: `${name} must be shorter than or equal to ${max} characters` },
        ]);
      }
    });

    it('lets its optional fields be left out, never null', async () => {
      for (const { name, maxLength: max } of optional) {
        expect((await accept(valid, id)).fields[name]).toBeUndefined();
        expect(await refusal({ ...valid, [name]: null }, id)).toEqual({
          status: 400,
          message: `Validation failed (missing or invalid: ${name})`,
          details: [{ field: name, message: `${name} must be a string; ${name} should not be empty; ${name} must be shorter than or equal to ${max} characters` }],
        });
      }
    });

    it('refuses a body id that differs from the path id', async () => {
      expect(await refusal({ ...valid, id: 'other' }, id)).toEqual(alone('id', `Body id "other" does not match the id in the path "${id}"`));
    });

    it('answers the same through the validator for a merged PATCH body (IntegrationsService calls it directly)', async () => {
      const merged = { ...valid, type: vendor.type };
      expect(await validator.validate(merged, id)).toEqual({ id, vendor, fields: vendorFieldsOf(valid) });
      const name = required[0].name;
      const refused = validator.validate({ ...merged, [name]: 7 }, id);
      await expect(refused).rejects.toBeInstanceOf(ValidationFailedError);
      await expect(refused).rejects.toMatchObject({
        status: 400,
        message: `Validation failed (missing or invalid: ${name})`,
        details: [{ field: name, message: `${name} must be a string; ${name} must be shorter than or equal to ${required[0].maxLength} characters` }],
      });
    });
  });

  describe('id and type', () => {
    it('requires an id, in the body or in the path', async () => {
      expect(await refusal({ type: 'twilio', account: 'SID', password: 'Token' })).toEqual(alone('id', 'id is required (in the body, or in the path)'));
    });

    it.each([['bad id'], ['x'.repeat(65)], ['é'], [7], [['a']], ['']])('refuses the body id %j', async (id) => {
      expect(await refusal({ id, type: 'twilio', account: 'SID', password: 'Token' })).toEqual(
        alone('id', 'id must be 1-64 characters of letters, digits, ".", "_" or "-"'),
      );
    });

    it('quotes a long mismatching id bounded and JSON-escaped', async () => {
      expect((await refusal({ id: `${'a'.repeat(70)}"` }, 'twilio')).message).toBe(
        `Body id "${'a'.repeat(64)}…" does not match the id in the path "twilio"`,
      );
    });

    it('requires a type when the id is not a vendor type', async () => {
      expect(await refusal({ account: 'SID', password: 'Token' }, 'twilio-backup')).toEqual(
        alone('type', `type is required because id "twilio-backup" is not a vendor type; ${KNOWN_TYPES}`),
      );
    });

    it.each([
      ['fax', '"fax"'],
      [7, '"7"'],
      [['twilio'], '"[\\"twilio\\"]"'],
      ['constructor', '"constructor"'],
    ])('refuses the unknown type %j, naming the known ones', async (type, quoted) => {
      expect(await refusal({ type, account: 'SID', password: 'Token' }, 'x')).toEqual(alone('type', `Unknown type ${quoted}; ${KNOWN_TYPES}`));
    });

    it('refuses a null type with the DTO rule when the id names the vendor', async () => {
      expect(await refusal({ type: null, account: 'SID', password: 'Token' }, 'twilio')).toEqual({
        status: 400,
        message: 'Validation failed (missing or invalid: type)',
        details: [{ field: 'type', message: 'type must be a string' }],
      });
    });

    it.each([[[]], [null], ['text'], [42]])('refuses the body %j: not a JSON object', async (body) => {
      expect(await refusal(body, 'twilio')).toEqual(alone('body', 'Request body must be a JSON object'));
    });
  });

  describe('several problems at once', () => {
    it('names unknown fields first in body order, then the vendor fields in declaration order', async () => {
      const body = { zz: 1, type: 'salesforce', 'consumer-key': 42, username: '', instance: null, aa: null };
      expect(await refusal(body, 'salesforce')).toEqual({
        status: 400,
        message:
          'Validation failed (unknown fields: zz, aa; missing or invalid: consumer-key, consumer-secret, username, password, secret-token, instance)',
        details: [
          { field: 'zz', message: 'property zz should not exist' },
          { field: 'aa', message: 'property aa should not exist' },
          { field: 'consumer-key', message: 'consumer-key must be a string; consumer-key must be shorter than or equal to 512 characters' },
          {
            field: 'consumer-secret',
            message: 'consumer-secret must be a string; consumer-secret should not be empty; consumer-secret must be shorter than or equal to 2048 characters',
          },
          { field: 'username', message: 'username should not be empty' },
          { field: 'password', message: 'password must be a string; password should not be empty; password must be shorter than or equal to 2048 characters' },
          {
            field: 'secret-token',
            message: 'secret-token must be a string; secret-token should not be empty; secret-token must be shorter than or equal to 2048 characters',
          },
          { field: 'instance', message: 'instance must be a string; instance should not be empty; instance must be shorter than or equal to 512 characters' },
        ],
      });
    });
  });

  describe('hostile input (HostileInputPipe, run first)', () => {
    it.each(['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'prototype', '__proto__'])(
      'refuses the key %s as an unknown field, which class-transformer would drop silently',
      async (key) => {
        expect(await refusal(parsed(`{"account":"SID","password":"Token","${key}":"x"}`), 'twilio')).toEqual({
          status: 400,
          message: `Validation failed (unknown field: ${key})`,
          details: [{ field: key, message: `property ${key} should not exist` }],
        });
      },
    );

    it('names every prototype key, also nested ones (a nested constructor makes class-transformer throw)', async () => {
      expect(await refusal(parsed('{"constructor":1,"account":{"constructor":"x"},"password":[{"toString":{}}]}'), 'twilio')).toEqual({
        status: 400,
        message: 'Validation failed (unknown fields: constructor, account.constructor, password.0.toString)',
        details: [
          { field: 'constructor', message: 'property constructor should not exist' },
          { field: 'account.constructor', message: 'property constructor should not exist' },
          { field: 'password.0.toString', message: 'property toString should not exist' },
        ],
      });
    });

    it('runs before the vendor is picked', async () => {
      expect((await refusal(parsed('{"type":"fax","toString":"x"}'), 'x')).message).toBe('Validation failed (unknown field: toString)');
    });

    it('refuses nesting deeper than 32 levels, at any depth without overflowing the stack', async () => {
      const tooDeep = { status: 400, message: 'Validation failed (body)', details: [{ field: 'body', message: 'nests deeper than 32 levels' }] };
      expect(await refusal({ account: nestedArrays(32), password: 'Token' }, 'twilio')).toEqual(tooDeep);
      expect(await refusal({ account: nestedArrays(100_000), password: 'Token' }, 'twilio')).toEqual(tooDeep);
      expect(await refusal(nestedArrays(100_000), 'twilio')).toEqual(tooDeep);
      // One level less is the DTO's business.
      expect((await refusal({ account: nestedArrays(31), password: 'Token' }, 'twilio')).details).toEqual([
        { field: 'account', message: 'account must be a string; account must be shorter than or equal to 512 characters' },
      ]);
    });

    it('refuses a lone UTF-16 surrogate in a value or a key, and accepts a pair', async () => {
      for (const value of ['SID\ud800', '\udc00SID', '\ud83d\ude00\ud83d']) {
        expect(await refusal({ account: value, password: 'Token' }, 'twilio')).toEqual({
          status: 400,
          message: 'Validation failed (account)',
          details: [{ field: 'account', message: 'must be valid Unicode text (it holds a lone surrogate)' }],
        });
      }
      expect((await refusal({ account: 'SID', password: 'Token', 'a\udc00': 'x' }, 'twilio')).details).toEqual([
        { field: 'body', message: 'keys must be valid Unicode text' },
      ]);
      expect((await accept({ account: 'SID\ud83d\ude00', password: 'Token' }, 'twilio')).fields.account).toBe('SID😀');
    });
  });
});
