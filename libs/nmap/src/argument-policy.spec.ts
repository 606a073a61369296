import {
  NmapArgumentPolicy,
  readNmapCommandLine,
  SAFE_NMAP_ENV,
  validateNmapFlags,
  validatePortSpec,
} from './argument-policy';
import { NmapPolicyError } from './errors';

const policy = new NmapArgumentPolicy();

function refusal(flags: string[]): NmapPolicyError {
  try {
    policy.validate(flags);
  } catch (err) {
    if (err instanceof NmapPolicyError) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(flags)} to be refused`);
}

describe('NmapArgumentPolicy', () => {
  describe('allowed options', () => {
    it.each<[string[], string[]]>([
      [['-sS'], ['-sS']],
      [['-sT'], ['-sT']],
      [['-sU'], ['-sU']],
      [['-sA'], ['-sA']],
      [['-sW'], ['-sW']],
      [['-sM'], ['-sM']],
      [['-sN'], ['-sN']],
      [['-sF'], ['-sF']],
      [['-sX'], ['-sX']],
      [['-sn'], ['-sn']],
      [['-sL'], ['-sL']],
      [['-sY'], ['-sY']],
      [['-sZ'], ['-sZ']],
      [['-sO'], ['-sO']],
      [
        ['-sS', '-sU', '-sV'],
        ['-sS', '-sU', '-sV'],
      ],
      [
        ['-sn', '-sV'],
        ['-sn', '-sV'],
      ],
      [['-sSV'], ['-sS', '-sV']],
      [
        ['-sV', '--version-intensity', '5'],
        ['-sV', '--version-intensity=5'],
      ],
      [
        ['--version-light', '--version-all', '--version-trace'],
        ['--version-light', '--version-all', '--version-trace'],
      ],
      [['-p', '22,80'], ['-p22,80']],
      [['-p22,80'], ['-p22,80']],
      [['-p', '-'], ['-p-']],
      [['-p-'], ['-p-']],
      [['-p', '1-1024,8000-'], ['-p1-1024,8000-']],
      [['-p', '-1024'], ['-p-1024']],
      [['-p', 'T:22,80,U:53,S:9'], ['-pT:22,80,U:53,S:9']],
      [['-p', '0,65535'], ['-p0,65535']],
      [['--exclude-ports', '25'], ['--exclude-ports=25']],
      [['--exclude-ports=T:25,U:53'], ['--exclude-ports=T:25,U:53']],
      [['--top-ports', '100'], ['--top-ports=100']],
      [['--top-ports=65535'], ['--top-ports=65535']],
      [['--port-ratio', '0.5'], ['--port-ratio=0.5']],
      [
        ['-F', '-r'],
        ['-F', '-r'],
      ],
      [['-T0'], ['-T0']],
      [['-T4'], ['-T4']],
      [['-T', '3'], ['-T3']],
      [['-T', 'paranoid'], ['-T0']],
      [['-Taggressive'], ['-T4']],
      [
        ['-Pn', '-PE', '-PP', '-PM', '-PR'],
        ['-Pn', '-PE', '-PP', '-PM', '-PR'],
      ],
      [
        ['-PS', '-PA', '-PU', '-PY', '-PO'],
        ['-PS', '-PA', '-PU', '-PY', '-PO'],
      ],
      [
        ['-PS22,80,443', '-PA80', '-PU53', '-PY80', '-PO1,2,4'],
        ['-PS22,80,443', '-PA80', '-PU53', '-PY80', '-PO1,2,4'],
      ],
      [
        ['-n', '-R', '--system-dns'],
        ['-n', '-R', '--system-dns'],
      ],
      [
        ['-O', '--osscan-limit', '--osscan-guess', '--max-os-tries', '2'],
        ['-O', '--osscan-limit', '--osscan-guess', '--max-os-tries=2'],
      ],
      [['-4'], ['-4']],
      [['-6'], ['-6']],
      [['--max-retries', '3'], ['--max-retries=3']],
      [['--max-retries=0'], ['--max-retries=0']],
      [['--host-timeout', '30s'], ['--host-timeout=30s']],
      [['--host-timeout=5m'], ['--host-timeout=5m']],
      [
        ['--scan-delay', '500ms', '--max-scan-delay', '1s'],
        ['--scan-delay=500ms', '--max-scan-delay=1s'],
      ],
      [
        ['--min-rtt-timeout', '100ms', '--max-rtt-timeout', '1.5s', '--initial-rtt-timeout', '1h'],
        ['--min-rtt-timeout=100ms', '--max-rtt-timeout=1.5s', '--initial-rtt-timeout=1h'],
      ],
      [['--host-timeout', '30'], ['--host-timeout=30']],
      [
        ['--min-rate', '1', '--max-rate', '100000'],
        ['--min-rate=1', '--max-rate=100000'],
      ],
      [['--max-rate=0.5'], ['--max-rate=0.5']],
      [
        ['--min-parallelism', '1', '--max-parallelism', '64'],
        ['--min-parallelism=1', '--max-parallelism=64'],
      ],
      [
        ['--min-hostgroup', '16', '--max-hostgroup', '256'],
        ['--min-hostgroup=16', '--max-hostgroup=256'],
      ],
      [['-v'], ['-v']],
      [['-vv'], ['-vv']],
      [['-vvv'], ['-vvv']],
      [['-v3'], ['-v3']],
      [
        ['-d', '-dd', '-d2'],
        ['-d', '-dd', '-d2'],
      ],
      [
        ['--open', '--reason', '--packet-trace'],
        ['--open', '--reason', '--packet-trace'],
      ],
      [['--stats-every', '10s'], ['--stats-every=10s']],
      [
        ['-sS', '-sU', '--defeat-rst-ratelimit', '--defeat-icmp-ratelimit', '--disable-arp-ping'],
        ['-sS', '-sU', '--defeat-rst-ratelimit', '--defeat-icmp-ratelimit', '--disable-arp-ping'],
      ],
      // Accepted by nmap 7.93 although they look alike to refused ones (found by the differential test).
      [['--defeat-rst-ratelimit'], ['--defeat-rst-ratelimit']],
      [
        ['-sn', '--top-ports', '10'],
        ['-sn', '--top-ports=10'],
      ],
      [
        ['-sO', '-p', '0-255'],
        ['-sO', '-p0-255'],
      ],
      [
        ['-sO', '-p', 'T:300'],
        ['-sO', '-pT:300'],
      ],
      [
        ['-PS', '-PA', '-PU9', '-PY'],
        ['-PS', '-PA', '-PU9', '-PY'],
      ],
      [
        ['--min-rtt-timeout', '2s', '--max-rtt-timeout', '1s'],
        ['--min-rtt-timeout=2s', '--max-rtt-timeout=1s'],
      ],
      [
        ['--min-rate', '10', '--max-rate', '10'],
        ['--min-rate=10', '--max-rate=10'],
      ],
      [
        ['-T3', '-T4', '--top-ports', '1', '--top-ports', '2'],
        ['-T3', '-T4', '--top-ports=1', '--top-ports=2'],
      ],
      [
        ['--traceroute', '--ttl', '64'],
        ['--traceroute', '--ttl=64'],
      ],
      [
        ['--randomize-hosts', '--noninteractive', '--allports'],
        ['--randomize-hosts', '--noninteractive', '--allports'],
      ],
      // getopt_long_only reads a single-dash long option as the long option.
      [['-open'], ['--open']],
      [['-top-ports', '10'], ['--top-ports=10']],
      [[], []],
    ])('%j becomes %j', (flags, expected) => {
      expect(policy.validate(flags)).toEqual(expected);
    });

    it('returns the API example flags unchanged', () => {
      expect(validateNmapFlags(['-sS', '-Pn', '-T4'])).toEqual(['-sS', '-Pn', '-T4']);
    });

    it('is idempotent: its output passes again unchanged', () => {
      const once = policy.validate(['-sSV', '-p', '22', '--max-retries', '2', '-T', 'polite', '-open']);
      expect(policy.validate(once)).toEqual(once);
    });
  });

  describe('refused options', () => {
    it.each<[string[], string, RegExp]>([
      // files
      [['-iL', 'targets.txt'], '-iL', /reads targets from a file/],
      [['-iL/etc/hosts'], '-iL', /reads targets from a file/],
      [['-iR', '100'], '-iR', /random internet hosts/],
      [['--excludefile', 'x'], '--excludefile', /file/],
      [['-oN', 'out.txt'], '-oN', /writes files/],
      [['-oX', 'out.xml'], '-oX', /writes files/],
      [['-oX/tmp/x'], '-oX', /writes files/],
      [['-oX-'], '-oX', /writes files/],
      [['-oG', '-'], '-oG', /writes files/],
      [['-oA', 'base'], '-oA', /writes files/],
      [['-oS', 'x'], '-oS', /writes files/],
      [['-oM', 'x'], '-oM', /writes files/],
      [['-o', 'x'], '-o', /writes files/],
      [['--append-output'], '--append-output', /writes files/],
      [['--resume', 'scan.log'], '--resume', /output file/],
      [['--datadir', '/tmp'], '--datadir', /data files/],
      [['--servicedb', 'x'], '--servicedb', /services file/],
      [['--versiondb', 'x'], '--versiondb', /service-probes file/],
      [['--stylesheet', 'http://192.0.2.1/x.xsl'], '--stylesheet', /stylesheet/],
      [['--webxml'], '--webxml', /stylesheet/],
      // scripts
      [['--script', 'default'], '--script', /runs NSE scripts/],
      [['--script=vuln'], '--script', /runs NSE scripts/],
      [['--script-args', 'a=b'], '--script-args', /runs NSE scripts/],
      [['--script-args-file', 'x'], '--script-args-file', /runs NSE scripts/],
      [['--script-updatedb'], '--script-updatedb', /runs NSE scripts/],
      [['--script-trace'], '--script-trace', /runs NSE scripts/],
      [['--script-help', 'all'], '--script-help', /runs NSE scripts/],
      [['--script-timeout', '5s'], '--script-timeout', /runs NSE scripts/],
      [['-sC'], '-sC', /runs NSE scripts/],
      [['-sVC'], '-sC', /runs NSE scripts/],
      [['-A'], '-A', /runs NSE scripts/],
      [['-script', 'default'], '-script', /runs NSE scripts/],
      [['--scr', 'default'], '--scr', /abbreviates "--script"/],
      // spoofing, relaying, packet crafting
      [['-S', '192.0.2.1'], '-S', /spoofs the source address/],
      [['-S192.0.2.1'], '-S', /spoofs the source address/],
      [['-e', 'eth0'], '-e', /network interface/],
      [['-D', 'RND:10'], '-D', /decoy/],
      [['-DRND:10'], '-D', /decoy/],
      [['--proxies', 'socks4://192.0.2.1:1080'], '--proxies', /proxies/],
      [['--proxy', 'http://192.0.2.1:8080'], '--proxy', /proxies/],
      [['-b', 'user:pass@192.0.2.1'], '-b', /FTP bounce/],
      [['--dns-servers', '192.0.2.53'], '--dns-servers', /DNS queries/],
      [['--spoof-mac', '0'], '--spoof-mac', /MAC/],
      [['-sI', '192.0.2.7'], '-sI', /idle scan/],
      [['-sI192.0.2.7'], '-sI', /idle scan/],
      [['--source-port', '53'], '--source-port', /source port/],
      [['-g', '53'], '-g', /source port/],
      [['-g53'], '-g', /source port/],
      [['--data', 'deadbeef'], '--data', /payloads/],
      [['--data-string', 'hi'], '--data-string', /payloads/],
      [['--data-length', '25'], '--data-length', /payloads/],
      [['--ip-options', 'R'], '--ip-options', /IP options/],
      [['-f'], '-f', /fragments/],
      [['-ff'], '-ff', /fragments/],
      [['--mtu', '16'], '--mtu', /fragments/],
      [['--badsum'], '--badsum', /bad checksums/],
      [['--privileged'], '--privileged', /privilege/],
      [['--unprivileged'], '--unprivileged', /privilege/],
      [['--exclude', '127.0.0.2'], '--exclude', /SCAN_SCOPE_DENY/],
      // not scans
      [['--iflist'], '--iflist', /instead of scanning/],
      [['-iflist'], '-iflist', /instead of scanning/],
      [['-h'], '-h', /instead of scanning/],
      [['--help'], '--help', /instead of scanning/],
      [['-V'], '-V', /instead of scanning/],
      [['--version'], '--version', /instead of scanning/],
      // timing and debug limits
      [['-T5'], '-T5', /insane/],
      [['-T', 'insane'], '-Tinsane', /insane/],
      [['-d3'], '-d3', /debug levels above 2/],
      [['-ddd'], '-ddd', /debug levels above 2/],
      // unknown or not allowed
      [['--send-eth'], '--send-eth', /not on the allow-list/],
      [['--scanflags', 'SYN'], '--scanflags', /not on the allow-list/],
      [['--nsock-engine', 'poll'], '--nsock-engine', /not on the allow-list/],
      [['-sP'], '-sP', /not on the allow-list/],
      [['-P0'], '-P0', /not on the allow-list/],
      [['-q'], '-q', /not on the allow-list/],
      [['-nv'], '-nv', /not on the allow-list/],
      [['--yoloscan'], '--yoloscan', /not on the allow-list/],
      [['--no-such-option'], '--no-such-option', /not on the allow-list/],
      [['--max-ret=3'], '--max-ret', /abbreviates "--max-retries"/],
      [['--constructor'], '--constructor', /not on the allow-list/],
      [['---p'], '---p', /not on the allow-list/],
      // structure
      [['--'], '--', /adds "--" itself/],
      [['127.0.0.1'], '127.0.0.1', /targets go in "targets"/],
      [['-sS', 'scanme.example'], 'scanme.example', /targets go in "targets"/],
      [['-'], '-', /targets go in "targets"/],
      [[''], '', /targets go in "targets"/],
      [['-PS', '22'], '22', /targets go in "targets"/],
      [['-p22\u0000'], '-p22\u0000', /NUL/],
      [['-p', '22\n-oX'], '22\n-oX', /line break/],
      [['--top-ports', '10\r'], '10\r', /line break/],
    ])('%j is refused, naming %s', (flags, option, reason) => {
      const err = refusal(flags);
      expect(err.option).toBe(option);
      expect(err.message).toContain(JSON.stringify(option));
      expect(err.message).toMatch(reason);
    });

    it.each<[string[], string, RegExp]>([
      [['-sS', '-sT'], '-sT', /conflicts with "-sS" \(nmap runs one TCP scan type at a time\)/],
      [['-sSA'], '-sA', /one TCP scan type/],
      [['-sO', '-sU'], '-sU', /conflicts with "-sO"/],
      [['-sn', '-sS'], '-sS', /conflicts with "-sn"/],
      [['-sL', '-sU'], '-sU', /conflicts with "-sL"/],
      [['-sn', '-p', '22'], '-p', /does not scan ports/],
      [['-F', '-p22'], '-F', /either -F or -p/],
      [['--defeat-icmp-ratelimit'], '--defeat-icmp-ratelimit', /works only with a UDP scan/],
      // Issue 8, B.5: each printed QUITTING! in nmap 7.93 and used to pass.
      [['-sO', '-p', '1000'], '-p', /conflicts with "-sO" \(with -sO, -p lists IP protocols, 0-255\)/],
      [['-sn', '-F'], '-F', /conflicts with "-sn" \(-sn does not scan ports\)/],
      [['-sT', '-p', '80', '-p', '443'], '-p', /is given twice; nmap takes it once/],
      [['--min-rate', '10', '--max-rate', '1'], '--min-rate', /conflicts with "--max-rate"/],
      // More of the same kind.
      [['--max-rate', '1', '--min-rate', '10'], '--min-rate', /--min-rate=10 is above --max-rate=1/],
      [['--min-parallelism', '10', '--max-parallelism', '2'], '--min-parallelism', /above/],
      [['--max-hostgroup', '2', '--min-hostgroup', '10'], '--min-hostgroup', /above/],
      [['--exclude-ports', '9', '--exclude-ports', '1-9'], '--exclude-ports', /given twice/],
      [['-PA', '-PA22'], '-PA', /given twice/],
      [['-PO', '-PO1,2'], '-PO', /given twice/],
      [['-sO', '--exclude-ports', '300'], '--exclude-ports', /IP protocols/],
      [['-sn', '-O'], '-O', /OS detection needs a port scan/],
      [['-sL', '-O'], '-O', /OS detection needs a port scan/],
      [['-sL', '-F'], '-F', /does not scan ports/],
      [['-4', '-6'], '-6', /conflicts with "-4" \(nmap scans one address family per run\)/],
      [['-sU', '--defeat-rst-ratelimit'], '--defeat-rst-ratelimit', /works only with a SYN scan/],
      [['-sT', '--defeat-rst-ratelimit'], '--defeat-rst-ratelimit', /works only with a SYN scan/],
      [['-sn', '--defeat-rst-ratelimit'], '--defeat-rst-ratelimit', /works only with a SYN scan/],
    ])('%j is refused as a combination nmap rejects, naming %s', (flags, option, reason) => {
      const err = refusal(flags);
      expect(err.option).toBe(option);
      expect(err.message).toMatch(reason);
    });

    it('names both options of a refused pair', () => {
      expect(refusal(['-sn', '-F']).options).toEqual(['-F', '-sn']);
      expect(refusal(['-sT', '-p', '80', '-p', '443']).options).toEqual(['-p']);
    });

    it('refuses --port-ratio 1, which nmap reads as out of [0, 1)', () => {
      expect(refusal(['--port-ratio', '1']).option).toBe('--port-ratio');
    });

    it('words the message as documented', () => {
      expect(refusal(['-oX', 'x']).message).toBe('nmap option "-oX" is not allowed: writes files');
    });

    it('refuses a dangerous option anywhere in the list, not just first', () => {
      expect(refusal(['-sT', '-Pn', '-p', '22', '--script', 'vuln']).option).toBe('--script');
    });
  });

  describe('value validation', () => {
    it.each<[string[], string]>([
      [['--top-ports', '0'], '--top-ports'],
      [['--top-ports', '65536'], '--top-ports'],
      [['--top-ports', '1e3'], '--top-ports'],
      [['--top-ports='], '--top-ports'],
      [['--min-rate', '10000000'], '--min-rate'],
      [['--max-rate', '0'], '--max-rate'],
      [['--max-rate', '-5'], '--max-rate'],
      [['--max-retries', '11'], '--max-retries'],
      [['--version-intensity', '10'], '--version-intensity'],
      [['--max-os-tries', '0'], '--max-os-tries'],
      [['--ttl', '0'], '--ttl'],
      [['--min-parallelism', '0'], '--min-parallelism'],
      [['--host-timeout', '2d'], '--host-timeout'],
      [['--host-timeout', '25h'], '--host-timeout'],
      [['--host-timeout', 'soon'], '--host-timeout'],
      [['--max-rtt-timeout', '1ms'], '--max-rtt-timeout'],
      [['--stats-every', '10ms'], '--stats-every'],
      [['--port-ratio', '1.5'], '--port-ratio'],
      [['-p', '99999'], '-p'],
      [['-p', '80-22'], '-p'],
      [['-p', 'http'], '-p'],
      [['-p', '22,,80'], '-p'],
      [['-p', '22,'], '-p'],
      [['-p', '*'], '-p'],
      [['-p', '[1-1024]'], '-p'],
      [['-p', 'T:'], '-p'],
      [['-p', 'X:22'], '-p'],
      [['-p', '-oX'], '-p'],
      [['-p-oX'], '-p'],
      [['-p', '--script=vuln'], '-p'],
      [['--exclude-ports', '-oX'], '--exclude-ports'],
      [['-PS', ''], ''],
      [['-PSall'], '-PS'],
      [['-PS1-99999'], '-PS'],
      [['-PST:22'], '-PS'],
      [['-PO256'], '-PO'],
      [['-T', '9'], '-T'],
      [['-Tfast'], '-T'],
    ])('%j is refused for its value (%s)', (flags, option) => {
      expect(refusal(flags).option).toBe(option);
    });

    it('names the option and the bad value', () => {
      expect(refusal(['--top-ports', '0']).message).toBe(
        'nmap option "--top-ports" has an invalid value "0": must be an integer from 1 to 65535',
      );
    });

    it.each<[string[], string]>([
      [['-p'], '-p'],
      [['--top-ports'], '--top-ports'],
      [['-T'], '-T'],
    ])('%j without its value is refused', (flags, option) => {
      const err = refusal(flags);
      expect(err.option).toBe(option);
      expect(err.message).toMatch(/requires a value/);
    });

    it('refuses a value on an option that takes none', () => {
      expect(refusal(['--open=yes']).message).toMatch(/takes no value/);
    });

    it('refuses more than 100 flags', () => {
      expect(() => policy.validate(Array<string>(101).fill('-n'))).toThrow(/too many nmap flags/);
    });

    it('refuses non-string items', () => {
      expect(() => policy.validate([42 as unknown as string])).toThrow(NmapPolicyError);
    });
  });

  describe('validatePortSpec', () => {
    it('accepts what -p accepts', () => {
      expect(validatePortSpec('1-65535')).toBe('1-65535');
      expect(validatePortSpec('T:22,U:53')).toBe('T:22,U:53');
    });

    it('refuses anything else, naming -p', () => {
      expect(() => validatePortSpec('22;id')).toThrow(NmapPolicyError);
      expect(() => validatePortSpec('')).toThrow(/"-p" has an invalid value ""/);
    });
  });
});

describe('SAFE_NMAP_ENV', () => {
  it('drops NMAPDIR and every NMAP_* variable and keeps the rest', () => {
    const env = {
      PATH: '/usr/bin',
      HOME: '/root',
      NMAPDIR: '/tmp/evil',
      NMAP_PRIVILEGED: '1',
      NMAP_UNPRIVILEGED: '1',
      nmap_lower: 'x',
      NMAPX: 'kept: not the NMAP_ prefix',
    };
    const safe = SAFE_NMAP_ENV(env);
    expect(safe).toEqual({ PATH: '/usr/bin', HOME: '/root', NMAPX: 'kept: not the NMAP_ prefix' });
    expect(env.NMAPDIR).toBe('/tmp/evil');
  });
});

describe('readNmapCommandLine: an nmap command line read as nmap 7.93 reads it', () => {
  const read = (line: string) => readNmapCommandLine(line.split(' '));
  const items = (line: string) => read(line).options.map((o) => o.item);

  it('keeps every value, whichever way it is written', () => {
    expect(items('--min-rate 5000 --min-rate=5000 -min-rate 5000 -min-rate=5000')).toEqual(
      Array(4).fill('--min-rate=5000'),
    );
    expect(items('-p 80 -p80 -p - -p- -T 4 -T4 -Taggressive')).toEqual([
      '-p80',
      '-p80',
      '-p-',
      '-p-',
      '-T4',
      '-T4',
      '-Taggressive',
    ]);
    expect(
      items('--max-hostgroup 64 --version-intensity 0 --host-timeout 30s --scan-delay 1s --stats-every 5s'),
    ).toEqual([
      '--max-hostgroup=64',
      '--version-intensity=0',
      '--host-timeout=30s',
      '--scan-delay=1s',
      '--stats-every=5s',
    ]);
  });

  it('takes the value of an option nmap refuses too, so it is never read as a target or an option', () => {
    const line = read('-oX - -iL list.txt --script vuln --datadir /tmp -e lo -S 127.0.0.9 -oN -p 127.0.0.1');
    expect(line.options.map((o) => [o.name, o.value])).toEqual([
      ['--oX', '-'],
      ['--iL', 'list.txt'],
      ['--script', 'vuln'],
      ['--datadir', '/tmp'],
      ['-e', 'lo'],
      ['-S', '127.0.0.9'],
      ['--oN', '-p'],
    ]);
    expect(line.operands).toEqual(['127.0.0.1']);
  });

  it('reads short options one by one, values attached only where nmap reads them so', () => {
    expect(items('-nv -Pn -PS22,80 -sTV -d2 -vv -vvv -O -6')).toEqual([
      '-n',
      '-v',
      '-Pn',
      '-PS22,80',
      '-sTV',
      '-d2',
      '-vv',
      '-vvv',
      '-O',
      '-6',
    ]);
    // -d, -v, -O, -P and -s take no detached value: the next word is a target.
    expect(read('-d 2').operands).toEqual(['2']);
  });

  it('writes an abbreviation in full when it is unique, keeps an ambiguous or unknown one as written', () => {
    expect(items('--top 10 -script-ti=5s --min-r 5 --scr x --bogus -x')).toEqual([
      '--top-ports=10',
      '--script-timeout=5s',
      '--min-r',
      '--scr',
      '--bogus',
      '-x',
    ]);
    expect(read('--min-r 5 --scr x').operands).toEqual(['5', 'x']);
  });

  it('reads every word after -- as an operand', () => {
    expect(read('-sT -- -p 127.0.0.1')).toEqual({
      options: [{ name: '-s', value: 'T', item: '-sT' }],
      operands: ['-p', '127.0.0.1'],
    });
  });
});

describe('NmapArgumentPolicy: --vv is nmap’s -vv', () => {
  it('accepts it as -vv', () => {
    expect(validateNmapFlags(['--vv'])).toEqual(['-vv']);
  });
});
