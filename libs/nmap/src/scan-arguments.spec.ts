import { NmapPolicyError } from './errors';
import { definitionFlags, joinScanArguments, splitScanArguments, splitTargetList } from './scan-arguments';

describe('splitScanArguments', () => {
  it.each([
    ['-T4 -sV', ['-T4', '-sV']],
    ['  -sT   -Pn\t-n  ', ['-sT', '-Pn', '-n']],
    ['-p "22,80,443" --max-retries 2', ['-p', '22,80,443', '--max-retries', '2']],
    ["--max-rate '100'", ['--max-rate', '100']],
    ['', []],
  ])('splits %j into %j', (text, words) => {
    expect(splitScanArguments(text)).toEqual(words);
  });

  it.each([
    ['-sT; id', ';'],
    ['-sT && id', '&'],
    ['-sT | tee x', '|'],
    ['-sT > /tmp/out', '>'],
    ['-iL < list', '<'],
    ['-p $PORTS', '$'],
    ['-p $(id)', '$'],
    ['-p `id`', '`'],
    ['-sT "a;b"', ';'],
    ['-sT # comment', '#'],
    ['-p 8*', '*'],
    ['-sT \\-sV', '\\'],
    ['-sT (x)', '('],
  ])('refuses the shell syntax in %j, naming %j', (text, culprit) => {
    expect(() => splitScanArguments(text)).toThrow(NmapPolicyError);
    try {
      splitScanArguments(text);
    } catch (error) {
      expect((error as NmapPolicyError).option).toBe(culprit);
      expect((error as Error).message).toMatch(/shell syntax/);
    }
  });

  it('refuses an unterminated quote', () => {
    expect(() => splitScanArguments('-p "22,80')).toThrow(/cannot be split into words/);
  });
});

describe('splitTargetList, definitionFlags, joinScanArguments', () => {
  it('splits seed 003 targets on commas and spaces', () => {
    expect(splitTargetList(' 127.0.0.1, 127.0.1.0/24  localhost,,::1 ')).toEqual([
      '127.0.0.1',
      '127.0.1.0/24',
      'localhost',
      '::1',
    ]);
  });

  it('appends ports as -p, leaving a second -p for the policy to refuse', () => {
    expect(definitionFlags(['-T4'], '22,80')).toEqual(['-T4', '-p', '22,80']);
    expect(definitionFlags(['-T4'], null)).toEqual(['-T4']);
    expect(definitionFlags(['-p', '1'], '2')).toEqual(['-p', '1', '-p', '2']);
  });

  it('joins words into a string that splits back into the same words', () => {
    const words = ['-T4', '--max-rate', '100', '-p', '22,80'];
    expect(joinScanArguments(words)).toBe('-T4 --max-rate 100 -p 22,80');
    expect(splitScanArguments(joinScanArguments(words))).toEqual(words);
  });
});
