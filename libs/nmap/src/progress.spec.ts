import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NmapArgumentPolicy } from './argument-policy';
import {
  parseNmapProgressLine,
  taskBoundaryFromAttributes,
  taskProgressFromAttributes,
  withStatsEvery,
} from './progress';

// Real stdout of nmap 7.93 with --stats-every 1s on loopback: see test/fixtures/record-progress.sh.
const lines = (name: string): string[] =>
  readFileSync(join(__dirname, '..', 'test', 'fixtures', name), 'utf8').split('\n');

describe('parseNmapProgressLine', () => {
  it('reads the progress and stats lines of a real run and nothing else', () => {
    const reports = lines('progress-quiet.txt')
      .map(parseNmapProgressLine)
      .filter((r) => r !== undefined);
    expect(reports).toEqual([
      { kind: 'stats', elapsed: 1, hostsCompleted: 0, hostsUp: 3, undergoing: 3, task: 'Connect Scan' },
      { kind: 'progress', task: 'Connect Scan', percent: 20, remaining: 4, etcClock: '23:41' },
      { kind: 'stats', elapsed: 2, hostsCompleted: 0, hostsUp: 3, undergoing: 3, task: 'Connect Scan' },
      { kind: 'progress', task: 'Connect Scan', percent: 40, remaining: 3, etcClock: '23:41' },
      { kind: 'stats', elapsed: 3, hostsCompleted: 0, hostsUp: 3, undergoing: 3, task: 'Connect Scan' },
      { kind: 'progress', task: 'Connect Scan', percent: 63.33, remaining: 2, etcClock: '23:41' },
      { kind: 'stats', elapsed: 4, hostsCompleted: 0, hostsUp: 3, undergoing: 3, task: 'Connect Scan' },
      { kind: 'progress', task: 'Connect Scan', percent: 86.67, remaining: 1, etcClock: '23:41' },
    ]);
  });

  it('finds the same reports in the verbose run (with its Initiating/Completed lines around them)', () => {
    const text = lines('progress-connect.txt');
    const progress = text.map(parseNmapProgressLine).filter((r) => r?.kind === 'progress');
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(text.some((l) => l.startsWith('Completed Connect Scan'))).toBe(true);
  });

  it.each([
    [
      'SYN Stealth Scan Timing: About 45.00% done; ETC: 12:34 (0:00:12 remaining)',
      { kind: 'progress', task: 'SYN Stealth Scan', percent: 45, remaining: 12, etcClock: '12:34' },
    ],
    [
      'Service scan Timing: About 50.00% done; ETC: 01:02 (1:02:03 remaining)',
      { kind: 'progress', task: 'Service scan', percent: 50, remaining: 3723, etcClock: '01:02' },
    ],
    ['Ping Scan Timing: About 0.00% done', { kind: 'progress', task: 'Ping Scan', percent: 0 }],
    [
      'Stats: 0:01:05 elapsed; 12 hosts completed (4 up), 2 undergoing SYN Stealth Scan',
      { kind: 'stats', elapsed: 65, hostsCompleted: 12, hostsUp: 4, undergoing: 2, task: 'SYN Stealth Scan' },
    ],
    [
      'Stats: 0:00:00 elapsed; 0 hosts completed (0 up)',
      { kind: 'stats', elapsed: 0, hostsCompleted: 0, hostsUp: 0 },
    ],
  ])('reads %j', (line, expected) => {
    expect(parseNmapProgressLine(line)).toEqual(expected);
  });

  it.each([
    '',
    'Nmap scan report for 127.0.0.1',
    'Stats: garbage',
    'X Timing: About 145.00% done',
    '8090/tcp open  opsmessaging',
  ])('ignores %j', (line) => {
    expect(parseNmapProgressLine(line)).toBeUndefined();
  });
});

describe('<taskprogress>, <taskbegin>, <taskend> attributes', () => {
  it('keeps the numbers that are numbers', () => {
    expect(
      taskProgressFromAttributes({
        task: 'Connect Scan',
        time: '5',
        percent: '22.50',
        remaining: '4',
        etc: '9',
      }),
    ).toEqual({ task: 'Connect Scan', time: 5, percent: 22.5, remaining: 4, etc: 9 });
    expect(taskProgressFromAttributes({ task: 'Connect Scan', percent: '1', remaining: 'x' })).toEqual({
      task: 'Connect Scan',
      percent: 1,
    });
  });

  it.each<Record<string, string>>([
    { percent: '10' },
    { task: 'X', percent: 'abc' },
    { task: 'X', percent: '101' },
  ])('drops a report nothing can show: %j', (attrs) => {
    expect(taskProgressFromAttributes(attrs)).toBeUndefined();
  });

  it('reads a task boundary', () => {
    expect(
      taskBoundaryFromAttributes('end', { task: 'Connect Scan', time: '7', extrainfo: '30 total ports' }),
    ).toEqual({ phase: 'end', task: 'Connect Scan', time: 7, extrainfo: '30 total ports' });
    expect(taskBoundaryFromAttributes('begin', {})).toBeUndefined();
  });
});

describe('withStatsEvery', () => {
  const policy = new NmapArgumentPolicy();

  it('adds --stats-every after the validated flags, which keep their order', () => {
    const flags = policy.validate(['-sT', '-v', '-p', '80']);
    expect(withStatsEvery(flags, 2)).toEqual(['-sT', '-v', '-p80', '--stats-every=2s']);
  });

  it.each([[['--stats-every', '10s']], [['--stats-every=10s']], [['-stats-every', '10s']]])(
    'keeps the interval the user gave (%j)',
    (given) => {
      const flags = policy.validate(['-sT', ...given]);
      expect(withStatsEvery(flags, 2)).toEqual(['-sT', '--stats-every=10s']);
    },
  );
});
