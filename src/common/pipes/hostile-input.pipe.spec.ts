import { ValidationFailedError } from '../errors/domain-errors';
import { HostileInputPipe } from './hostile-input.pipe';

describe('HostileInputPipe', () => {
  const pipe = new HostileInputPipe();
  const hostile = JSON.parse('{"constructor":"x","name":[[[[1]]]]}') as unknown;

  it('passes every parameter but a body through untouched', () => {
    for (const type of ['param', 'query', 'custom'] as const) expect(pipe.transform(hostile, { type, data: 'x' })).toBe(hostile);
  });

  it('passes a body that is not an object, or a clean one, through as it is', () => {
    const clean = { id: 'acme', name: 'Acme 😀', tags: [{ a: 'b' }] };
    for (const value of [clean, null, undefined, 'text', 7]) expect(pipe.transform(value, { type: 'body' })).toBe(value);
  });

  it('refuses a hostile body with a 400 naming the problem', () => {
    let error: unknown;
    try {
      pipe.transform(hostile, { type: 'body' });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ValidationFailedError);
    expect(error).toMatchObject({
      status: 400,
      message: 'Validation failed (unknown field: constructor)',
      details: [{ field: 'constructor', message: 'property constructor should not exist' }],
    });
  });
});
