import 'reflect-metadata';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { getMetadataStorage, validate } from 'class-validator';
import { plainToInstance } from 'class-transformer';
import { PlainText, textProblem, Trim } from './text-fields';

describe('textProblem', () => {
  it.each(['admin', 'Lab network', 'ünïcödé ✓', '名前', '😀 emoji pair', '', 'a-b_c.d'])(
    'accepts %p',
    (text) => {
      expect(textProblem(text)).toBeUndefined();
    },
  );

  it.each([
    ['a\u0000b', 'NUL'],
    ['a\u0001', 'SOH'],
    ['tab\there', 'tab'],
    ['line\nbreak', 'line feed'],
    ['cr\r', 'carriage return'],
    ['esc\u001b[31m', 'ESC (terminal escape)'],
    ['del\u007f', 'DEL'],
    ['c1\u0085', 'NEL (C1)'],
    ['c1\u009f', 'APC (C1)'],
  ])('refuses %p (%s)', (text) => {
    expect(textProblem(text)).toBe('must not contain control characters');
  });

  it('allows tab, LF and CR, but no other control character, in free text', () => {
    expect(textProblem('line one\r\nline\ttwo', { allowLineBreaks: true })).toBeUndefined();
    expect(textProblem('a\u0000b', { allowLineBreaks: true })).toBe('must not contain control characters');
    expect(textProblem('a\u000bb', { allowLineBreaks: true })).toBe('must not contain control characters');
  });

  it.each(['\ud800', 'a\udc00b', '\ude00\ud83d'])('refuses the unpaired surrogate in %p', (text) => {
    expect(textProblem(text)).toMatch(/unpaired surrogate/);
  });

  it('leaves non-strings to the type check', () => {
    expect(textProblem(42)).toBeUndefined();
    expect(textProblem(null)).toBeUndefined();
  });
});

class Sample {
  @Trim()
  @PlainText()
  name!: string;

  @PlainText({}, { each: true })
  list!: string[];
}

describe('PlainText and Trim', () => {
  it('name the field (and "each value in" an array field) in the message', async () => {
    const sample = plainToInstance(Sample, { name: '  a\u0000b  ', list: ['ok', 'x\u0007'] });
    const errors = await validate(sample);
    expect(errors.map((e) => Object.values(e.constraints ?? {}))).toEqual([
      ['name must not contain control characters'],
      ['each value in list must not contain control characters'],
    ]);
  });

  it('trims strings and passes anything else unchanged', () => {
    expect(plainToInstance(Sample, { name: '  Lab  ' }).name).toBe('Lab');
    expect(plainToInstance(Sample, { name: '   ' }).name).toBe('');
    expect(plainToInstance(Sample, { name: 7 }).name).toBe(7);
  });
});

// Every request body class of the gateway: the exported classes of every *.dto.ts that carry validation rules.
type Class = new (...args: never[]) => object;

async function dtoClasses(): Promise<Array<[string, Class]>> {
  const root = join(__dirname, '..');
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.dto.ts')) files.push(path);
    }
  };
  walk(root);
  const storage = getMetadataStorage();
  const modules = await Promise.all(
    files.map(async (file) => (await import(file)) as Record<string, unknown>),
  );
  return modules.flatMap((exported) =>
    Object.entries(exported)
      .filter((entry): entry is [string, Class] => typeof entry[1] === 'function')
      .filter(([, cls]) => storage.getTargetValidationMetadatas(cls, '', true, false).length > 0),
  );
}

describe('every string field of every request body', () => {
  let classes: Array<[string, Class]>;
  beforeAll(async () => {
    classes = await dtoClasses();
  });

  it('finds the request bodies', () => {
    expect(classes.map(([name]) => name).sort()).toEqual(
      expect.arrayContaining([
        'CreateProjectDto',
        'CreateTokenDto',
        'LoginDto',
        'NmapRunDto',
        'RegisterDto',
        'StartScanDto',
      ]),
    );
  });

  it('refuses control characters (PlainText), for each item of a string array too', () => {
    const missing: string[] = [];
    const storage = getMetadataStorage();
    for (const [name, cls] of classes) {
      const rules = storage.getTargetValidationMetadatas(cls, '', true, false);
      const stringFields = rules.filter((rule) => rule.name === 'isString' || rule.name === 'isEmail');
      for (const field of stringFields) {
        const guarded = rules.some(
          (rule) =>
            rule.propertyName === field.propertyName &&
            (rule.name === 'plainText' || rule.name === 'plainTextLines') &&
            Boolean(rule.each) === Boolean(field.each),
        );
        if (!guarded) missing.push(`${name}.${field.propertyName}`);
      }
      // A field typed string in TypeScript but validated by no string rule would slip through as well.
      const validated = new Set(rules.map((rule) => rule.propertyName));
      for (const property of validated) {
        const type: unknown = Reflect.getMetadata('design:type', cls.prototype, property);
        const hasStringRule = stringFields.some((rule) => rule.propertyName === property);
        const enumerated = rules.some((rule) => rule.propertyName === property && rule.name === 'isIn');
        if (type === String && !hasStringRule && !enumerated)
          missing.push(`${name}.${property} (no string rule)`);
      }
    }
    expect(missing).toEqual([]);
  });
});
