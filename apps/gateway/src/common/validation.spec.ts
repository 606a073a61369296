import 'reflect-metadata';
import { ArgumentMetadata, HttpException } from '@nestjs/common';
import { LoginDto, RegisterDto } from '../auth/auth.dto';
import { NmapRunDto } from '../nmap/nmap-run.dto';
import { CreateProjectDto } from '../projects/projects.dto';
import { ReportsQuery } from '../reports/reports.dto';
import { CreateWebhookDto } from '../webhooks/webhooks.dto';
import { StartScanDto } from '../scans/scans.dto';
import { CreateTokenDto } from '../tokens/tokens.dto';
import { PageQuery } from './pagination';
import { ApiValidationPipe, reservedKeyPaths } from './validation';

type Class = new (...args: never[]) => object;

const body = (metatype: Class): ArgumentMetadata => ({ type: 'body', metatype, data: undefined });
const query = (metatype: Class): ArgumentMetadata => ({ type: 'query', metatype, data: undefined });

/** The pipe's answer: the transformed body (or query), or the error body it refused with. */
async function run(
  metatype: Class,
  value: unknown,
  where = body,
): Promise<{ ok?: unknown; refused?: unknown }> {
  try {
    return { ok: await new ApiValidationPipe().transform(value, where(metatype)) };
  } catch (error) {
    if (error instanceof HttpException) return { refused: error.getResponse() };
    throw error;
  }
}

const parse = (json: string): unknown => JSON.parse(json);

describe('reservedKeyPaths', () => {
  it('finds __proto__, constructor and prototype keys at any depth, and nothing else', () => {
    expect(
      reservedKeyPaths(parse('{"a":{"__proto__":{"x":1}},"constructor":1,"list":[{"prototype":2}],"b":"c"}')),
    ).toEqual(['a.__proto__', 'constructor', 'list.0.prototype']);
    expect(reservedKeyPaths({ name: 'constructor', list: ['__proto__'] })).toEqual([]);
    expect(reservedKeyPaths(null)).toEqual([]);
  });
});

describe('ApiValidationPipe', () => {
  it.each([
    ['{"username":"a","password":"b","__proto__":{"isAdmin":true}}', ['__proto__']],
    [
      '{"username":"a","password":"b","constructor":{"prototype":{}}}',
      ['constructor', 'constructor.prototype'],
    ],
  ])('refuses %s naming the reserved keys', async (json, keys) => {
    expect(await run(LoginDto, parse(json))).toEqual({
      refused: {
        error: `Unknown field${keys.length > 1 ? 's' : ''}: ${keys.join(', ')}`,
        unknown_fields: keys,
      },
    });
  });

  it('lists reserved keys together with the other unknown fields', async () => {
    expect(await run(LoginDto, parse('{"username":"a","password":"b","__proto__":1,"shell":"x"}'))).toEqual({
      refused: { error: 'Unknown fields: __proto__, shell', unknown_fields: ['__proto__', 'shell'] },
    });
  });

  it('still reports missing fields first', async () => {
    expect(await run(LoginDto, parse('{"__proto__":1}'))).toMatchObject({
      refused: { error: 'Missing required fields', missing_fields: ['username', 'password'] },
    });
  });

  it.each([
    [CreateProjectDto, { name: '   ' }],
    [CreateProjectDto, { name: '\t \n' }],
    [CreateTokenDto, { name: '  ' }],
    [
      RegisterDto,
      { username: 'someone', email: 'a@example.com', password: 'x', confirm_password: 'x', first_name: ' ' },
    ],
  ])('refuses a name of only white space in %p', async (dto, value) => {
    const answer = await run(dto, value);
    expect(answer.refused).toMatchObject({ error: expect.stringMatching(/should not be empty/) });
  });

  it('trims names before they are stored', async () => {
    expect(await run(CreateProjectDto, { name: '  Lab  ', description: 'line one\nline two' })).toEqual({
      ok: Object.assign(new CreateProjectDto(), { name: 'Lab', description: 'line one\nline two' }),
    });
  });

  it.each([
    [LoginDto, { username: 'a\u0000b', password: 'x' }, 'username'],
    [LoginDto, { username: 'admin', password: 'pass\u0000word' }, 'password'],
    [CreateProjectDto, { name: 'a\u0000b' }, 'name'],
    [CreateProjectDto, { name: 'ok', description: 'a\u0000b' }, 'description'],
    [CreateTokenDto, { name: 'a\u0000b' }, 'name'],
    [
      RegisterDto,
      { username: 'a\u0000b', email: 'a@example.com', password: 'x', confirm_password: 'x' },
      'username',
    ],
  ])('refuses NUL in %p.%s', async (dto, value, field) => {
    expect(await run(dto, value)).toMatchObject({
      refused: { error: expect.stringContaining(`${field} must not contain control characters`) },
    });
  });

  it('leaves path parameters as the URL spelled them, for their own pipes', async () => {
    const pipe = new ApiValidationPipe();
    const param: ArgumentMetadata = { type: 'param', metatype: Number, data: 'scanId' };
    expect(await pipe.transform('0x1a', param)).toBe('0x1a');
    expect(await pipe.transform('26', param)).toBe('26');
  });

  it.each([
    // A safe integer, and a longer run of digits: integers beyond the maximum, not "not an integer".
    ['9007199254740991', 'page must not be greater than 1000000'],
    ['99999999999999999999999999999', 'page must not be greater than 1000000'],
    ['1000001', 'page must not be greater than 1000000'],
    ['0', 'page must not be less than 1'],
    // No number at all: its type alone, not its range too.
    ['abc', 'page must be an integer number'],
    ['-1', 'page must be an integer number'],
    ['1.5', 'page must be an integer number'],
  ])('answers ?page=%s with only what is wrong with it', async (page, error) => {
    expect(await run(PageQuery, { page }, query)).toEqual({ refused: { error, details: [error] } });
  });

  it('bounds offset by the safe integers, and takes the largest', async () => {
    expect(await run(PageQuery, { offset: '9007199254740991' }, query)).toEqual({
      ok: Object.assign(new PageQuery(), { offset: 9007199254740991 }),
    });
    expect(await run(PageQuery, { offset: '9007199254740993' }, query)).toMatchObject({
      refused: { error: 'offset must not be greater than 9007199254740991' },
    });
  });

  it('names an unknown query parameter as one, and an unknown body field as a field', async () => {
    expect(await run(PageQuery, { page: '1', foo: 'x' }, query)).toEqual({
      refused: { error: 'Unknown query parameter: foo', unknown_fields: ['foo'] },
    });
    expect(await run(PageQuery, { foo: 'x', bar: 'y' }, query)).toEqual({
      refused: { error: 'Unknown query parameters: foo, bar', unknown_fields: ['foo', 'bar'] },
    });
    expect(await run(LoginDto, { username: 'a', password: 'b', foo: 'x' })).toEqual({
      refused: { error: 'Unknown field: foo', unknown_fields: ['foo'] },
    });
  });

  // docs/nmap-policy.md: a flag item up to 1024 characters and 100 items, a target up to 512 characters — the
  // policy's own limits, which scan definitions (ports, scan_arguments) already had.
  it('lets through the nmap flags and targets the policy accepts: a long -p list, 100 flags, a 512-character target', async () => {
    const ports = Array.from({ length: 200 }, (_, i) => 8000 + i).join(',');
    const target = `127.0.0.${Array.from({ length: 130 }, (_, i) => i + 1).join(',')}`;
    const flags = ['-sT', '-p', ports, ...Array<string>(97).fill('-v')];
    expect(ports.length).toBeGreaterThan(256);
    expect(target.length).toBeGreaterThan(256);
    expect(target.length).toBeLessThanOrEqual(512);
    for (const dto of [StartScanDto, NmapRunDto]) {
      expect(await run(dto, { nmap_flags: flags, targets: [target] })).toMatchObject({
        ok: { nmap_flags: flags, targets: [target] },
      });
    }
    expect(await run(StartScanDto, { nmap_flags: [...flags, '-n'], targets: ['127.0.0.1'] })).toMatchObject({
      refused: { error: 'nmap_flags must contain no more than 100 elements' },
    });
    expect(
      await run(NmapRunDto, { nmap_flags: ['-p', `1${'0'.repeat(1024)}`], targets: ['127.0.0.1'] }),
    ).toMatchObject({
      refused: { error: 'each value in nmap_flags must be shorter than or equal to 1024 characters' },
    });
    expect(await run(StartScanDto, { targets: [`${target},${'1,'.repeat(200)}1`] })).toMatchObject({
      refused: { error: 'each value in targets must be shorter than or equal to 512 characters' },
    });
  });

  it('takes limit and offset on the delta report lists, limit at most 100 as per_page', async () => {
    expect(await run(ReportsQuery, { limit: '5', offset: '10' }, query)).toEqual({
      ok: Object.assign(new ReportsQuery(), { limit: 5, offset: 10 }),
    });
    expect(await run(ReportsQuery, { limit: '101' }, query)).toMatchObject({
      refused: { error: 'limit must not be greater than 100' },
    });
  });

  it("lets a webhook rule filter on ip, the protocol of an -sO scan's changes", async () => {
    const url = 'http://127.0.0.1:9000/hook';
    expect(await run(CreateWebhookDto, { url, protocols: ['ip', 'tcp'] })).toMatchObject({
      ok: { url, protocols: ['ip', 'tcp'] },
    });
  });
});
