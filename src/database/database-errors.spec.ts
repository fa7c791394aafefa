import { QueryFailedError } from 'typeorm';
import { toErrorResponse } from '../common/filters/error-response';
import { isDatabaseUnavailable, isRetryableConflict } from './database-errors';

/** A driver error as mysql2 makes it, wrapped as TypeORM wraps it. */
function failed(code: string, errno: number, message: string): QueryFailedError {
  return new QueryFailedError('COMMIT', [], Object.assign(new Error(message), { code, errno }));
}

describe('database errors on Galera (issue 16)', () => {
  it('a certification failure at COMMIT is a lost race, to be run again, not an outage', () => {
    const error = failed('ER_LOCK_DEADLOCK', 1213, 'Deadlock found when trying to get lock; try restarting transaction');
    expect(isRetryableConflict(error)).toBe(true);
    expect(isDatabaseUnavailable(error)).toBe(false);
  });

  it('a node outside the primary component (WSREP not ready) is an unavailable database: 503, not 500', () => {
    const error = failed('ER_UNKNOWN_COM_ERROR', 1047, 'WSREP has not yet prepared node for application use');
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(isRetryableConflict(error)).toBe(false);
  });

  it('a conflict still lost after the retries answers 503 DATABASE_BUSY with Retry-After, never a 500, and no driver text', () => {
    const answer = toErrorResponse(failed('ER_LOCK_DEADLOCK', 1213, 'Deadlock found when trying to get lock; try restarting transaction'));
    expect(answer).toMatchObject({
      status: 503,
      body: { error: 'The write kept conflicting with concurrent writes and was not applied; retry it', code: 'DATABASE_BUSY' },
      headers: { 'Retry-After': '1' },
      unexpected: false,
    });
    expect(JSON.stringify(answer)).not.toMatch(/Deadlock/);
  });

  it('a node outside the primary component answers 503 DATABASE_UNAVAILABLE', () => {
    const answer = toErrorResponse(failed('ER_UNKNOWN_COM_ERROR', 1047, 'WSREP has not yet prepared node for application use'));
    expect(answer).toMatchObject({ status: 503, body: { code: 'DATABASE_UNAVAILABLE' }, headers: { 'Retry-After': '5' } });
  });

  it("TiDB's optimistic write conflict (9007, which mysql2 has no name for) is a lost race too", () => {
    const error = new QueryFailedError('COMMIT', [], Object.assign(new Error('Write conflict, txnStartTS=…'), { errno: 9007 }));
    expect(isRetryableConflict(error)).toBe(true);
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
