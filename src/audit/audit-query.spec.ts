import { ValidationFailedError } from '../common/errors/domain-errors';
import { decodeCursor, encodeCursor, parseAuditQuery } from './audit-query';

describe('the audit query', () => {
  it('reads since, action, limit and a cursor', () => {
    const cursor = encodeCursor({ after: 100, upTo: 250 });
    expect(parseAuditQuery({ since: '2026-11-28T10:00:00Z', action: 'tenant.delete', limit: '5', cursor })).toEqual({
      since: new Date('2026-11-28T10:00:00Z'),
      action: 'tenant.delete',
      limit: 5,
      cursor: { after: 100, upTo: 250 },
    });
    expect(parseAuditQuery({})).toEqual({});
    expect(parseAuditQuery({ since: '2026-11-28T10:00:00.123+01:00' }).since).toEqual(new Date('2026-11-28T09:00:00.123Z'));
  });

  it('round-trips cursors and refuses any other text', () => {
    expect(decodeCursor(encodeCursor({ after: 0, upTo: 7 }))).toEqual({ after: 0, upTo: 7 });
    for (const text of [
      '',
      'abc',
      Buffer.from('v1.9.3').toString('base64url'),
      Buffer.from('v2.1.3').toString('base64url'),
      'a'.repeat(65),
      '../x',
    ]) {
      expect(decodeCursor(text)).toBeUndefined();
    }
  });

  it.each([
    [{ since: 'yesterday' }, 'since', 'since must be an ISO 8601 date-time, like 2026-11-28T10:00:00Z'],
    [{ since: '2026-13-45T99:00:00Z' }, 'since', 'since must be an ISO 8601 date-time, like 2026-11-28T10:00:00Z'],
    [{ action: 'tenant.explode' }, 'action', expect.stringMatching(/^action must be one of tenant\.create, /)],
    [{ limit: '0' }, 'limit', 'limit must be an integer from 1 to 1000'],
    [{ limit: '1001' }, 'limit', 'limit must be an integer from 1 to 1000'],
    [{ cursor: 'nope' }, 'cursor', 'cursor must be a next-cursor this API returned'],
    [{ action: ['tenant.create', 'tenant.delete'] }, 'action', 'action must be given once'],
    [{ offset: '10' }, 'offset', 'property offset should not exist'],
  ])('refuses %o with a 400 naming the parameter', (query, field, message) => {
    let error: unknown;
    try {
      parseAuditQuery(query);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationFailedError);
    expect((error as ValidationFailedError).details).toEqual([{ field, message }]);
  });
});
