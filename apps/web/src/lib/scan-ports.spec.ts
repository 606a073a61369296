import { portsOfScan } from './scan-ports';

describe('the ports a scan looks at, as the scan list shows them', () => {
  it('takes the ports field when it is set', () => {
    expect(portsOfScan({ ports: '22,80', nmap_flags: ['-sT', '-p', '1-10'] })).toBe('22,80');
  });

  it('reads -p from the options of a scan started with them (POST /api/scans/start stores no ports)', () => {
    expect(portsOfScan({ ports: null, nmap_flags: ['-sT', '-Pn', '-n', '-p8082'] })).toBe('8082');
    expect(portsOfScan({ ports: null, nmap_flags: ['-sT', '-p', 'T:80,U:53'] })).toBe('T:80,U:53');
    expect(portsOfScan({ ports: null, nmap_flags: ['-Pn', '-p-'] })).toBe('all (-p-)');
  });

  it('names the top ports and nmap defaults', () => {
    expect(portsOfScan({ ports: null, nmap_flags: ['-sT', '--top-ports', '20'] })).toBe('top 20');
    expect(portsOfScan({ ports: null, nmap_flags: ['--top-ports=50'] })).toBe('top 50');
    expect(portsOfScan({ ports: null, nmap_flags: ['-F'] })).toBe('top 100 (-F)');
    expect(portsOfScan({ ports: null, nmap_flags: ['-sT', '-Pn'] })).toBe('default');
    expect(portsOfScan({ ports: null })).toBe('default');
  });
});
