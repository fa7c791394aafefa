import { findVendor, VENDOR_TYPES } from './vendors/registry';
import { etagOf, ifMatchAllows, toWire } from './wire-format';

describe('wire format', () => {
  it('puts id and type first, then the vendor fields in their declared order', () => {
    const wire = toWire(findVendor('salesforce')!, 'sf', { password: 'p', username: 'u', 'consumer-key': 'k' });
    expect(Object.keys(wire)).toEqual(['id', 'type', 'consumer-key', 'username', 'password']);
  });

  it('matches If-Match the way RFC 9110 does for our strong tags', () => {
    expect(ifMatchAllows(etagOf(3), 3)).toBe(true);
    expect(ifMatchAllows(`W/${etagOf(3)}`, 3)).toBe(true);
    expect(ifMatchAllows(`"r1", ${etagOf(3)}`, 3)).toBe(true);
    expect(ifMatchAllows(etagOf(2), 3)).toBe(false);
    expect(ifMatchAllows('*', 3)).toBe(true);
    expect(ifMatchAllows('*', undefined)).toBe(false);
  });

  it('derives every vendor\'s secret fields from its DTO decorators', () => {
    expect(VENDOR_TYPES).toEqual(['salesforce', 'twilio', 'sendgrid', 'datasift', 'pusher', 'urban-airship']);
    expect([...findVendor('salesforce')!.secretFields]).toEqual(['consumer-secret', 'password', 'secret-token']);
    expect([...findVendor('datasift')!.secretFields]).toEqual(['api-key']);
    expect([...findVendor('pusher')!.fieldNames]).toEqual(['key', 'secret', 'app-id']);
  });
});
