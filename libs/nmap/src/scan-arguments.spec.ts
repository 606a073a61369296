import { NmapPolicyError } from './errors';
import { splitScanArguments } from './scan-arguments';

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
