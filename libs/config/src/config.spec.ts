import { join } from 'node:path';
import { ConfigError, enabledLogLevels, isCidr, loadConfig } from './config';

describe('loadConfig', () => {
  it('has loopback-only, local defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      redisUrl: 'redis://127.0.0.1:6379',
      databaseUrl: 'sqlite:./data/netscan.db',
      scanScopeAllow: ['127.0.0.0/8', '::1/128'],
      scanScopeDeny: [],
      nmapPath: 'nmap',
      nmapStatsEverySeconds: 2,
    });
  });

  it('reads and trims every variable', () => {
    const config = loadConfig({
      PORT: ' 8080 ',
      DATABASE_URL: 'postgres://u@127.0.0.1:5432/db',
      DATABASE_SCHEMA: 'tenant_a',
      SCAN_SCOPE_ALLOW: '127.0.0.0/8, ::1',
      SCAN_SCOPE_DENY: '127.0.0.9/32',
      WORKER_CONCURRENCY: '4',
    });
    expect(config).toMatchObject({
      port: 8080,
      databaseUrl: 'postgres://u@127.0.0.1:5432/db',
      databaseSchema: 'tenant_a',
      scanScopeAllow: ['127.0.0.0/8', '::1'],
      scanScopeDeny: ['127.0.0.9/32'],
      workerConcurrency: 4,
    });
  });

  it.each([
    [undefined, false],
    ['false', false],
    ['true', true],
    ['1', 1],
    ['loopback', 'loopback'],
    ['127.0.0.1/8, ::1', '127.0.0.1/8, ::1'],
  ])('reads TRUST_PROXY=%s as %j for Express', (raw, expected) => {
    expect(loadConfig({ TRUST_PROXY: raw }).trustProxy).toEqual(expected);
  });

  it('serves the UI from dist/web of the working directory, or WEB_DIST_DIR made absolute', () => {
    expect(loadConfig({}).webDistDir).toBe(join(process.cwd(), 'dist', 'web'));
    expect(loadConfig({ WEB_DIST_DIR: 'build/ui' }).webDistDir).toBe(join(process.cwd(), 'build', 'ui'));
    expect(loadConfig({ WEB_DIST_DIR: '/srv/nso/web' }).webDistDir).toBe('/srv/nso/web');
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '', SCAN_SCOPE_DENY: '' })).toMatchObject({ port: 3000, scanScopeDeny: [] });
  });

  it('names every malformed variable at once', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ PORT: '70000', DATABASE_URL: 'mysql://x', WORKER_CONCURRENCY: 'two', LOG_LEVEL: 'loud' });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.problems).toEqual([
      'PORT="70000" must be an integer from 0 to 65535',
      'DATABASE_URL="mysql://x" is malformed: expected sqlite:<path> or postgres://user@host:port/database',
      'WORKER_CONCURRENCY="two" must be an integer from 1 to 64',
      'LOG_LEVEL="loud" must be one of error, warn, log, debug, verbose',
    ]);
  });

  it('never repeats a secret when it names a malformed variable', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({
        ADMIN_PASSWORD: 'Short1',
        DATABASE_URL: 'postgres://netscan:Db-Secret-9@db.internal:5432/netscan x',
        REDIS_URL: 'redis://:Redis-Secret-7@redis.internal:6379/0 x',
      });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.message).not.toMatch(/Short1|Db-Secret-9|Redis-Secret-7/);
    expect(error!.problems).toEqual([
      'REDIS_URL="redis://:***@redis.internal:6379/0 x" is malformed: expected redis://host:port[/db]',
      'DATABASE_URL="postgres://netscan:***@db.internal:5432/netscan x" is malformed: expected sqlite:<path> or postgres://user@host:port/database',
      'ADMIN_PASSWORD (6 characters, not shown) is malformed: at least 8 characters',
    ]);
  });

  it('turns LOG_LEVEL into the levels at or above it, so debug and verbose keep the log lines', () => {
    expect(enabledLogLevels('error')).toEqual(['fatal', 'error']);
    expect(enabledLogLevels('warn')).toEqual(['fatal', 'error', 'warn']);
    expect(enabledLogLevels('log')).toEqual(['fatal', 'error', 'warn', 'log']);
    expect(enabledLogLevels('debug')).toEqual(['fatal', 'error', 'warn', 'log', 'debug']);
    expect(enabledLogLevels('verbose')).toEqual(['fatal', 'error', 'warn', 'log', 'debug', 'verbose']);
  });

  it('refuses a scope that allows nothing', () => {
    expect(() => loadConfig({ SCAN_SCOPE_ALLOW: ' , ' })).toThrow(
      'SCAN_SCOPE_ALLOW must name at least one CIDR',
    );
  });

  it.each([
    ['127.0.0.0/8', true],
    ['::1/128', true],
    ['::1', true],
    ['127.0.0.1', true],
    ['127.0.0.0/33', false],
    ['::/129', false],
    ['localhost', false],
    ['127.0.0.0/8/1', false],
    ['127.0.0.0/x', false],
    ['127.0.0.1/8', false],
    ['10.20.0.0/16', true],
    ['2001:db8::/32', true],
    ['2001:db8::1/64', false],
    ['::ffff:127.0.0.0/104', true],
  ])('isCidr(%s) is %s', (text, expected) => {
    expect(isCidr(text)).toBe(expected);
  });
});
