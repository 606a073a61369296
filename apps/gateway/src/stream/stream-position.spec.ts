import { formatStreamPosition, parseStreamPosition } from './stream-position';

describe('stream position (the SSE id of /api/stream)', () => {
  it('round-trips the seq of each topic', () => {
    expect(formatStreamPosition({ b: 12, u: 3, a: 7 })).toBe('b12-u3-a7');
    expect(parseStreamPosition('b12-u3-a7')).toEqual({ b: 12, u: 3, a: 7 });
    expect(parseStreamPosition('b0')).toEqual({ b: 0 });
    expect(formatStreamPosition({ u: 1 })).toBe('u1');
  });

  it.each([undefined, ''])('starts live (no resume) on %p', (value) => {
    expect(parseStreamPosition(value)).toEqual({});
  });

  it.each([
    'garbage',
    'abc',
    '-1',
    '12',
    'b',
    'b1-',
    'x1',
    'b-1',
    'b1.5',
    'b1-u2-a3-b4',
    'b1234567890123456',
  ])('refuses %p with a 400 naming the header', (value) => {
    expect(() => parseStreamPosition(value)).toThrow(
      expect.objectContaining({
        status: 400,
        response: { error: 'Last-Event-ID must be an id of this stream, such as b12-u3' },
      }),
    );
  });
});
