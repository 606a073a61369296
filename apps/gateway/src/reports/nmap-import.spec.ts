import { validateNmapFlags } from '@nso/nmap';
import { finishTimeIn, importedFlags, XmlPrologGuard, xmlPrologProblem } from './nmap-import';

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

describe('finishTimeIn: the finish time read from the end of a file before it is parsed', () => {
  it("reads nmap's <finished time> of the last <runstats>, or nothing", () => {
    const tail =
      '</host>\n<runstats><finished time="1795385384" timestr="Sun Nov 22 22:09:44 2026" elapsed="2.00" exit="success"/>' +
      '<hosts up="1" down="0" total="1"/>\n</runstats>\n</nmaprun>\n';
    expect(finishTimeIn(tail)).toEqual(new Date(1795385384_000));
    expect(finishTimeIn('<runstats><finished elapsed="2.00"/></runstats>')).toBeUndefined();
    expect(finishTimeIn('</host>')).toBeUndefined();
    expect(finishTimeIn('')).toBeUndefined();
  });
});

describe('importedFlags: the options an imported run stores, as an API-started run stores them', () => {
  /** `<nmaprun args>` as nmap 7.93 wrote it (the XML parser gives `-&#45;` back as `--`, `&quot;` as `"`). */
  const REAL = {
    issue: 'nmap -sT -Pn -n --max-retries 0 --min-rate 5000 -p 38480 -oX - 127.2.0.0/18',
    timing:
      'nmap -sT -Pn -n --min-rate 5000 --max-hostgroup 64 --version-intensity 0 --host-timeout 30s -p 1 -oX - 127.0.0.1',
    scripts:
      'nmap -sT -Pn -n --script-args "a=1, b=\\"two words\\"" --script=banner --script-timeout 5s -p1 -oX - 127.0.0.1',
    outputs: 'nmap -sTV -Pn -n -T4 --randomize-hosts -p1 -vv -d -oX out.xml -oN out.txt 127.0.0.1-3',
  };

  it('keeps every option nmap recorded with its value, in the policy’s normal form', () => {
    expect(importedFlags(REAL.issue)).toEqual([
      '-sT',
      '-Pn',
      '-n',
      '--max-retries=0',
      '--min-rate=5000',
      '-p38480',
    ]);
    expect(importedFlags(REAL.timing)).toEqual([
      '-sT',
      '-Pn',
      '-n',
      '--min-rate=5000',
      '--max-hostgroup=64',
      '--version-intensity=0',
      '--host-timeout=30s',
      '-p1',
    ]);
    expect(importedFlags(REAL.outputs)).toEqual([
      '-sT',
      '-sV',
      '-Pn',
      '-n',
      '-T4',
      '--randomize-hosts',
      '-p1',
      '-vv',
      '-d',
    ]);
    expect(
      importedFlags('nmap -sS --max-rate=100 -T aggressive --top 10 -min-hostgroup 8 127.0.0.1'),
    ).toEqual(['-sS', '--max-rate=100', '-T4', '--top-ports=10', '--min-hostgroup=8']);
  });

  it('stores what the policy lets run: the list always passes it', () => {
    for (const args of Object.values(REAL)) {
      const flags = importedFlags(args)!;
      expect(validateNmapFlags(flags)).toEqual(flags);
    }
  });

  it('leaves out, with their values, outputs, inputs and whatever else the policy refuses', () => {
    expect(importedFlags(REAL.scripts)).toEqual(['-sT', '-Pn', '-n', '-p1']);
    expect(
      importedFlags(
        '/usr/bin/nmap -sV --top-ports 100 -oA out -iL list.txt --datadir /tmp --resume x -e lo -T5 127.0.0.0/24',
      ),
    ).toEqual(['-sV', '--top-ports=100']);
    // -A is -O -sV -sC --traceroute: what of it may run is kept; -sC of -sCV goes, -sV stays (once).
    expect(importedFlags('nmap -A -sCV -p 22 127.0.0.1')).toEqual(['-sV', '-O', '--traceroute', '-p22']);
    // A second -p (nmap takes one) or a conflicting pair: the first wins.
    expect(importedFlags('nmap -sT -p 22 -p 80 -sS 127.0.0.1')).toEqual(['-sT', '-p22']);
  });

  it('is undefined without args, or args that cannot be split', () => {
    expect(importedFlags(undefined)).toBeUndefined();
    expect(importedFlags('nmap -p "22')).toBeUndefined();
    expect(importedFlags('nmap 127.0.0.1')).toEqual([]);
  });
});
