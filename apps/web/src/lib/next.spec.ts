import { loginUrlFor, sanitiseNext } from './next';

describe('sanitiseNext', () => {
  it.each(['/scans/4', '/reports?page=2', '/hosts/%3A%3A1', '/'])('keeps the same-origin path %s', (path) => {
    expect(sanitiseNext(path)).toBe(path);
  });
  it.each([
    ['another host by //', '//evil.example/x'],
    ['another host by /\\', '/\\evil.example'],
    ['an absolute URL', 'https://evil.example/'],
    ['a javascript: URL', 'javascript:alert(1)'],
    ['a relative path', 'scans'],
    ['a control character', '/scans\n/x'],
    ['the login page itself', '/auth/login?next=/x'],
    ['empty', ''],
  ])('refuses %s', (_why, path) => {
    expect(sanitiseNext(path)).toBeNull();
  });
  it('refuses null, undefined and overlong values', () => {
    expect(sanitiseNext(null)).toBeNull();
    expect(sanitiseNext(undefined)).toBeNull();
    expect(sanitiseNext('/' + 'a'.repeat(2000))).toBeNull();
  });
});

describe('loginUrlFor', () => {
  it('carries the path back as an encoded next', () => {
    expect(loginUrlFor('/scans/4?tab=runs')).toBe('/auth/login?next=%2Fscans%2F4%3Ftab%3Druns');
  });
  it('drops a next that would not be honoured or is the root', () => {
    expect(loginUrlFor('//evil.example')).toBe('/auth/login');
    expect(loginUrlFor('/')).toBe('/auth/login');
  });
});
