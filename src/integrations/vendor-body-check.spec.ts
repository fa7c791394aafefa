import 'reflect-metadata';
import { validateSync } from 'class-validator';
import { toDetails, VALIDATOR_OPTIONS } from '../common/pipes/validation';
import { vendorBodyProblems } from './vendor-body-check';
import { allVendors, type Vendor } from './vendors/registry';

/** What class-validator itself says of a body, through the service's options and error format. */
function classValidatorProblems(vendor: Vendor, body: Record<string, unknown>) {
  const instance = Object.assign(new vendor.dto(), body);
  return toDetails(validateSync(instance, VALIDATOR_OPTIONS));
}

/** Values that break (or just pass) each rule: type, emptiness, length as class-validator counts it. */
function trickyValues(maxLength: number): unknown[] {
  return [
    undefined,
    null,
    '',
    ' ',
    0,
    5,
    true,
    [],
    ['a'],
    {},
    { nested: 'x' },
    '********',
    'x'.repeat(maxLength),
    'x'.repeat(maxLength + 1),
    // A surrogate pair counts once, a presentation selector after a character not at all.
    '😀'.repeat(maxLength),
    '😀'.repeat(maxLength + 1),
    '☺\uFE0F'.repeat(maxLength),
    '☺\uFE0F'.repeat(maxLength) + 'x',
  ];
}

function bodiesFor(vendor: Vendor): Record<string, unknown>[] {
  const valid: Record<string, unknown> = { ...vendor.example };
  const bodies: Record<string, unknown>[] = [valid, {}, { type: vendor.type }];
  for (const field of vendor.fields) {
    for (const value of trickyValues(field.maxLength)) bodies.push({ ...valid, [field.name]: value });
  }
  for (const id of [undefined, null, '', 'ok.id_1-x', 'bad id', 'x'.repeat(64), 'x'.repeat(65), 'é', 7, ['a'], {}]) {
    bodies.push({ ...valid, id });
  }
  for (const type of [undefined, null, 5, vendor.type, 'other']) bodies.push({ ...valid, type });
  bodies.push({ ...valid, extra: 1 }, { zz: 1, ...valid, aa: null }, { id: 5, type: 7, unknown: 'u' });
  // Every field wrong at once, in both directions of the body's key order.
  const allWrong: Record<string, unknown> = { id: 3, type: [], surplus: true };
  for (const field of vendor.fields) allWrong[field.name] = field.required ? 42 : '';
  bodies.push(allWrong, Object.fromEntries(Object.entries(allWrong).reverse()));
  return bodies.map((body) => Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)));
}

describe('vendorBodyProblems', () => {
  for (const vendor of allVendors()) {
    it(`finds exactly what class-validator finds for ${vendor.type}`, () => {
      const bodies = bodiesFor(vendor);
      let invalid = 0;
      for (const body of bodies) {
        const expected = classValidatorProblems(vendor, body);
        if (expected.length > 0) invalid++;
        // The body in the failure message says which case differs.
        expect({ body, problems: vendorBodyProblems(vendor, body) }).toEqual({ body, problems: expected });
      }
      // The table exercises both outcomes, so the comparison cannot pass vacuously.
      expect(invalid).toBeGreaterThan(bodies.length / 2);
      expect(invalid).toBeLessThan(bodies.length);
    });
  }

  it('accepts each vendor example and names an unknown field and a bad one', () => {
    const twilio = allVendors().find((v) => v.type === 'twilio')!;
    expect(vendorBodyProblems(twilio, { ...twilio.example })).toEqual([]);
    expect(vendorBodyProblems(twilio, { account: '', password: 'p', colour: 'red' })).toEqual([
      { field: 'colour', message: 'property colour should not exist' },
      { field: 'account', message: 'account should not be empty' },
    ]);
  });
});
