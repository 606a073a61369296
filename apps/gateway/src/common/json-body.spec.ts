import { bodyErrorAnswer, nestingDepth } from './json-body';

describe('nestingDepth', () => {
  it('counts objects and arrays, not scalars', () => {
    expect(nestingDepth('x')).toBe(0);
    expect(nestingDepth(null)).toBe(0);
    expect(nestingDepth({})).toBe(1);
    expect(nestingDepth({ nmap_flags: ['-sT'], targets: ['127.0.0.1'] })).toBe(2);
    expect(nestingDepth([[[{ a: [1] }]]])).toBe(5);
  });

  it('walks 100,000 levels without overflowing the stack, and can stop early', () => {
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
    expect(nestingDepth(deep)).toBe(100_000);
    expect(nestingDepth(deep, 32)).toBe(33);
  });
});

describe('bodyErrorAnswer', () => {
  const httpError = (status: number, fields: Record<string, unknown>) =>
    Object.assign(new Error('x'), { status, statusCode: status, expose: true, ...fields });

  it.each([
    [
      httpError(400, { code: 'ERR__ERROR_FORMAT_PADDING_2' }),
      400,
      'Request body does not match its Content-Encoding',
    ],
    [httpError(400, { type: 'entity.parse.failed' }), 400, 'Malformed JSON body'],
    [httpError(413, { type: 'entity.too.large' }), 413, 'Request body too large'],
    [
      httpError(415, { type: 'encoding.unsupported' }),
      415,
      'Unsupported Content-Encoding (use gzip, deflate, br or none)',
    ],
    [httpError(415, { type: 'charset.unsupported' }), 415, 'Unsupported charset (use utf-8)'],
    [httpError(400, { code: 'Z_DATA_ERROR' }), 400, 'Request body does not match its Content-Encoding'],
    [
      httpError(400, { type: 'request.size.invalid' }),
      400,
      'Request body ended early or does not match its Content-Length',
    ],
    [httpError(403, { type: 'entity.verify.failed' }), 403, 'Unreadable request body'],
  ])('answers %p', (error, status, message) => {
    expect(bodyErrorAnswer(error, true)).toEqual([status, { error: message }]);
  });

  it('leaves errors that are not the parsers’ to the exception filter', () => {
    expect(bodyErrorAnswer(new Error('boom'))).toBeUndefined();
    expect(bodyErrorAnswer(httpError(500, {}))).toBeUndefined();
    expect(bodyErrorAnswer('text')).toBeUndefined();
  });
});
