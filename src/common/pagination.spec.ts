import { ValidationFailedError } from './errors/domain-errors';
import { parsePageQuery } from './pagination';

function refusal(query: Record<string, unknown>): ValidationFailedError {
  try {
    parsePageQuery(query);
  } catch (error) {
    if (error instanceof ValidationFailedError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(query)}`);
}

describe('parsePageQuery', () => {
  it('defaults to the first 100', () => {
    expect(parsePageQuery({})).toEqual({ limit: 100, offset: 0 });
  });

  it('reads decimal integers within the bounds', () => {
    expect(parsePageQuery({ limit: '1', offset: '0' })).toEqual({ limit: 1, offset: 0 });
    expect(parsePageQuery({ limit: '1000', offset: '1000000000' })).toEqual({ limit: 1000, offset: 1_000_000_000 });
  });

  it.each([['0'], ['1001'], ['abc'], ['1.5'], ['-1'], ['1e2'], [' 5'], [''], ['0x10'], ['99999999999']])('refuses limit=%j', (limit) => {
    expect(refusal({ limit }).details).toEqual([{ field: 'limit', message: 'limit must be an integer from 1 to 1000' }]);
  });

  it('refuses a repeated parameter (an array) and an offset out of bounds', () => {
    expect(refusal({ limit: ['1', '2'] }).details?.[0].field).toBe('limit');
    expect(refusal({ offset: '1000000001' }).details?.[0].field).toBe('offset');
  });

  it('refuses unknown parameters, naming each', () => {
    const error = refusal({ limit: '5', sort: 'id', q: 'x' });
    expect(error.details).toEqual([
      { field: 'sort', message: 'property sort should not exist' },
      { field: 'q', message: 'property q should not exist' },
    ]);
    expect(error.message).toBe('Validation failed (unknown fields: sort, q)');
  });
});
