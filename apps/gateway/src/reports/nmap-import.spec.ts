import { importedFlags, XmlPrologGuard, xmlPrologProblem } from './nmap-import';

describe('xmlPrologProblem', () => {
  it('accepts nmap’s own prolog', () => {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n<?xml-stylesheet href="file:///usr/share/nmap/nmap.xsl" type="text/xsl"?>\n<nmaprun></nmaprun>';
    expect(xmlPrologProblem(xml)).toBeUndefined();
  });

  it.each([
    ['<!DOCTYPE nmaprun [<!ENTITY x "y">]><nmaprun>&x;</nmaprun>', /entity/],
    ['<!DOCTYPE nmaprun SYSTEM "http://127.0.0.1/evil.dtd"><nmaprun/>', /DOCTYPE/],
    ['<!DOCTYPE nmaprun PUBLIC "-//x//EN" "file:///etc/passwd"><nmaprun/>', /DOCTYPE/],
    ['<!doctype nmaprun [ ]><nmaprun/>', /DOCTYPE/],
    ['<!DOCTYPE foo><nmaprun/>', /DOCTYPE/],
  ])('refuses %s', (xml, problem) => {
    expect(xmlPrologProblem(xml)).toMatch(problem);
  });
});

describe('XmlPrologGuard: the same checks over a document in pieces (issue 20)', () => {
  /** The first problem the guard finds with the text cut into pieces of `size` characters. */
  const inPieces = (xml: string, size: number): string | undefined => {
    const guard = new XmlPrologGuard();
    for (let i = 0; i < xml.length; i += size) {
      const problem = guard.check(xml.slice(i, i + size));
      if (problem) return problem;
    }
    return guard.end();
  };
  const NMAP =
    '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n<nmaprun>' +
    '<host/>'.repeat(50) +
    '</nmaprun>';

  it.each([1, 2, 5, 9, 17, 4096])('accepts nmap’s own prolog cut every %i characters', (size) => {
    expect(inPieces(NMAP, size)).toBeUndefined();
  });

  it.each([1, 3, 8, 9, 64])('sees what is split between pieces of %i characters', (size) => {
    const late = (extra: string) => NMAP.replace('</nmaprun>', `${extra}</nmaprun>`);
    expect(inPieces(late('<!-- <!EnTiTy x "y"> -->'), size)).toMatch(/entity/);
    expect(inPieces(NMAP.replace('<!DOCTYPE nmaprun>', '<!DOCTYPE nmaprun SYSTEM "x.dtd">'), size)).toMatch(
      /DOCTYPE other than/,
    );
    expect(inPieces(late('<!DOCTYPE nmaprun>'), size)).toBe('more than one DOCTYPE');
    expect(inPieces('<!DOCTYPE nmaprun', size)).toMatch(/DOCTYPE other than/);
  });

  it('refuses a DOCTYPE that stays open past what nmap’s could be, without waiting for its end', () => {
    const guard = new XmlPrologGuard();
    expect(guard.check('<!DOCTYPE nmaprun ')).toBeUndefined();
    expect(guard.check(' '.repeat(5000))).toMatch(/DOCTYPE other than/);
  });
});

describe('importedFlags', () => {
  it('keeps the options, drops the program, files and targets', () => {
    expect(importedFlags('nmap -sT -Pn -n -p 9,22,8081 -oX - 127.0.0.5')).toEqual([
      '-sT',
      '-Pn',
      '-n',
      '-p9,22,8081',
    ]);
    expect(importedFlags('/usr/bin/nmap -sV --top-ports 100 -oA out -iL list.txt 127.0.0.0/24')).toEqual([
      '-sV',
      '--top-ports=100',
    ]);
    expect(importedFlags(undefined)).toBeUndefined();
  });
});
