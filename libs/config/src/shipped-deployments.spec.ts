// The deployments shipped in the repository (docker-compose.yml, k8s/configmap.yaml) are read as the gateway would
// read them, so a default that opens the system to anyone who reaches it cannot slip back in unnoticed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { isLoopbackHost, loadConfig } from './config';

const ROOT = join(__dirname, '..', '..', '..');

type Env = Record<string, string | undefined>;

/**
 * Compose's interpolation of `${NAME}`, `${NAME:-default}`, `${NAME-default}` and `${NAME:?error}` against `env`
 * (the shell and `.env`), as https://docs.docker.com/compose/how-tos/environment-variables/variable-interpolation/
 * describes it. Enough for this file; nested interpolation is not used in it.
 */
function interpolate(value: string, env: Env): string {
  return value.replace(
    /\$\{(\w+)(?:(:?)([-?])([^}]*))?\}/g,
    (_all, name: string, colon, kind, arg: string) => {
      const set = env[name];
      const missing = set === undefined || (colon === ':' && set === '');
      if (!missing) return set;
      if (kind === '?') throw new Error(`compose refuses to start: ${arg}`);
      return kind === '-' ? arg : '';
    },
  );
}

/** YAML 1.2 has no merge keys; compose resolves `<<:` itself, later keys winning. */
function mergeKeys(map: Record<string, unknown>): Record<string, string> {
  const { '<<': merged, ...own } = map;
  return { ...(merged as Record<string, string> | undefined), ...(own as Record<string, string>) };
}

function composeGatewayEnv(shell: Env): Env {
  const compose = load(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: { gateway: { environment: Record<string, unknown> } };
  };
  const env = mergeKeys(compose.services.gateway.environment);
  return Object.fromEntries(Object.entries(env).map(([name, value]) => [name, interpolate(value, shell)]));
}

function configMapData(): Env {
  const map = load(readFileSync(join(ROOT, 'k8s/configmap.yaml'), 'utf8')) as { data: Env };
  return map.data;
}

/** What `.env` must hold for `docker compose up` to start at all. */
const REQUIRED = { ADMIN_PASSWORD: 'Compose-Admin-Pass-1' };

describe('the shipped deployments', () => {
  it('docker-compose.yml: the gateway listens beyond loopback with registration closed by default', () => {
    const config = loadConfig(composeGatewayEnv(REQUIRED));
    expect(isLoopbackHost(config.host)).toBe(false);
    expect(config.registrationOpen).toBe(false);
  });

  it('docker-compose.yml: REGISTRATION_OPEN=true in .env opens it deliberately', () => {
    expect(loadConfig(composeGatewayEnv({ ...REQUIRED, REGISTRATION_OPEN: 'true' })).registrationOpen).toBe(
      true,
    );
  });

  it('docker-compose.yml: refuses to start without an admin password', () => {
    expect(() => composeGatewayEnv({})).toThrow(/ADMIN_PASSWORD/);
  });

  it('k8s/configmap.yaml: the gateway listens beyond loopback with registration closed', () => {
    const data = configMapData();
    expect(data.REGISTRATION_OPEN).toBe('false');
    // The Secret adds DATABASE_URL, REDIS_URL and ADMIN_PASSWORD; none of them bears on registration.
    const config = loadConfig({ ...data, ...REQUIRED });
    expect(isLoopbackHost(config.host)).toBe(false);
    expect(config.registrationOpen).toBe(false);
  });
});

describe('REGISTRATION_OPEN default', () => {
  it.each(['127.0.0.1', '127.3.2.1', '::1', 'localhost'])('is open on loopback (%s)', (HOST) => {
    expect(loadConfig({ HOST }).registrationOpen).toBe(true);
  });

  it.each(['0.0.0.0', '::', '192.0.2.10', 'gateway.internal'])('is closed on %s', (HOST) => {
    expect(loadConfig({ HOST }).registrationOpen).toBe(false);
  });

  it('follows REGISTRATION_OPEN when it is set', () => {
    expect(loadConfig({ HOST: '0.0.0.0', REGISTRATION_OPEN: 'true' }).registrationOpen).toBe(true);
    expect(loadConfig({ HOST: '127.0.0.1', REGISTRATION_OPEN: 'false' }).registrationOpen).toBe(false);
  });
});
