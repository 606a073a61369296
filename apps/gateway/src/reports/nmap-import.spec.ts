import { importedFlags, xmlPrologProblem } from './nmap-import';

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
