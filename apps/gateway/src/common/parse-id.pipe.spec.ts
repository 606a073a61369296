import { BadRequestException } from '@nestjs/common';
import { ParseIdPipe, parseId } from './parse-id.pipe';

describe('parseId', () => {
  it.each([
    ['1', 1],
    ['26', 26],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
  ])('reads %p as %p', (raw, id) => {
    expect(parseId(raw)).toBe(id);
  });

  it.each([
    '0x1a',
    '26.0',
    '+26',
    ' 26',
    '26 ',
    '1e1',
    '026',
    '0',
    '-1',
    '',
    '0b11',
    '0o7',
    '٢٦',
    '２６',
    '26abc',
    '9007199254740992',
    '99999999999999999999',
    'NaN',
    'Infinity',
  ])('refuses %p', (raw) => {
    expect(parseId(raw)).toBeUndefined();
  });

  it('refuses anything but a string', () => {
    expect(parseId(26)).toBeUndefined();
    expect(parseId(undefined)).toBeUndefined();
  });
});

describe('ParseIdPipe', () => {
  it('answers 400 naming the parameter', () => {
    const pipe = new ParseIdPipe('scan_id');
    expect(pipe.transform('26')).toBe(26);
    expect(() => pipe.transform('0x1a')).toThrow(BadRequestException);
    try {
      pipe.transform('+26');
    } catch (error) {
      expect((error as BadRequestException).getResponse()).toEqual({
        error: 'scan_id must be a positive integer',
      });
    }
  });
});
