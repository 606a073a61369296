import { pathPattern, upgradePath } from './path-ws.adapter';

describe('upgradePath', () => {
  it.each([
    ['/ws/scans/26', '/ws/scans/26'],
    ['/ws/scans/26?since=3', '/ws/scans/26'],
    ['/ws/scans/%32%36', '/ws/scans/%32%36'],
    ['/', '/'],
  ])('reads %p as %p', (target, path) => {
    expect(upgradePath(target)).toBe(path);
  });

  it.each([
    '//[',
    '//evil.example/ws/scans/1',
    '*',
    'http://127.0.0.1/ws/scans/1',
    '',
    undefined,
    'ws/scans/1',
  ])('refuses the target %p', (target) => {
    expect(upgradePath(target)).toBeUndefined();
  });
});

describe('pathPattern', () => {
  it('matches one segment per parameter', () => {
    const pattern = pathPattern('/ws/scans/:scanId');
    expect(pattern.test('/ws/scans/26')).toBe(true);
    expect(pattern.test('/ws/scans/26/')).toBe(true);
    expect(pattern.test('/ws/scans/26/x')).toBe(false);
    expect(pattern.test('/ws/scans')).toBe(false);
  });
});
