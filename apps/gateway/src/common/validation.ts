import {
  ArgumentMetadata,
  BadRequestException,
  HttpException,
  ValidationError,
  ValidationPipe,
} from '@nestjs/common';

function flatten(errors: ValidationError[], parent = ''): Array<{ path: string; error: ValidationError }> {
  return errors.flatMap((error) => {
    const path = parent ? `${parent}.${error.property}` : error.property;
    return [{ path, error }, ...flatten(error.children ?? [], path)];
  });
}

/** class-validator's number checks, and the range checks that say nothing more when one of them failed. */
const TYPE_CHECKS = ['isInt', 'isNumber'];
const RANGE_CHECKS = new Set(['min', 'max']);

/**
 * Turns class-validator failures into seed 003's 400 shapes: missing fields are listed in `missing_fields`;
 * unknown fields are named; every other problem is a sentence in `details`.
 */
export function validationErrorBody(errors: ValidationError[]) {
  const missing: string[] = [];
  const unknown: string[] = [];
  const details: string[] = [];
  const headlines: string[] = [];
  for (const { path, error } of flatten(errors)) {
    const constraints = error.constraints ?? {};
    if ('whitelistValidation' in constraints) {
      unknown.push(path);
      continue;
    }
    // Optional fields skip validation when absent, so an absent field with errors is a required one.
    if (error.value === undefined && Object.keys(constraints).length > 0) {
      missing.push(path);
      continue;
    }
    // class-validator lists constraints in reverse order of declaration; the first declared (the type check)
    // is the most useful headline. A value that is no number at all breaks its range too: only the type is said.
    const messages = Object.entries(constraints)
      .filter(([name]) => !(TYPE_CHECKS.some((type) => type in constraints) && RANGE_CHECKS.has(name)))
      .map(([, message]) => message)
      .reverse();
    if (messages.length > 0) headlines.push(messages[0]);
    details.push(...messages);
  }
  if (missing.length > 0) return { error: 'Missing required fields', missing_fields: missing, details };
  if (unknown.length > 0) return unknownFieldsBody(unknown);
  return { error: headlines.join('; ') || 'Invalid request body', details };
}

/**
 * Keys that class-transformer and Nest's pipe delete without a word (they could reach an object's prototype).
 * No DTO declares them, so like any other undeclared key they are refused, by name.
 */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Paths (`a.b`, `list.0.c`) of every reserved key in a parsed body, found without recursion (the body layer
 * bounds the nesting; this walk would not overflow the stack anyway).
 */
export function reservedKeyPaths(body: unknown): string[] {
  const found: string[] = [];
  const pending: Array<{ value: unknown; path: string }> = [{ value: body, path: '' }];
  while (pending.length > 0) {
    const { value, path } = pending.pop()!;
    if (value === null || typeof value !== 'object') continue;
    for (const key of Object.keys(value)) {
      const child = path ? `${path}.${key}` : key;
      if (!Array.isArray(value) && RESERVED_KEYS.has(key)) found.push(child);
      pending.push({ value: (value as Record<string, unknown>)[key], path: child });
    }
  }
  return found.sort();
}

/**
 * Nest's ValidationPipe with seed 003's error shapes (see validationErrorBody), two changes:
 * - a body holding `__proto__`, `constructor` or `prototype` keys is a 400 naming them in `unknown_fields`
 *   (Nest would delete them silently; api.md: nothing unknown is silently dropped);
 * - path and query parameters stay the strings the URL had: Nest would turn "0x1a" into 26 for a `number`
 *   parameter before its pipe runs, and ids must have one spelling (common/parse-id.pipe.ts).
 */
export class ApiValidationPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      stopAtFirstError: false,
      exceptionFactory: (errors) => new BadRequestException(validationErrorBody(errors)),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'query') return this.transformQuery(value, metadata);
    const reserved = metadata.type === 'body' ? reservedKeyPaths(value) : [];
    if (reserved.length === 0) return super.transform(value, metadata);
    let others: string[] = [];
    try {
      await super.transform(value, metadata);
    } catch (error) {
      const body = error instanceof HttpException ? (error.getResponse() as Record<string, unknown>) : {};
      // Missing fields are reported first, as for any other body.
      if (Array.isArray(body.missing_fields)) throw error;
      if (Array.isArray(body.unknown_fields)) others = body.unknown_fields as string[];
    }
    throw new BadRequestException(unknownFieldsBody([...reserved, ...others]));
  }

  protected override transformPrimitive(value: unknown): unknown {
    return value;
  }

  /** A query string's unknown names are its parameters: `Unknown query parameter: foo`, same `unknown_fields`. */
  private async transformQuery(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    try {
      return await super.transform(value, metadata);
    } catch (error) {
      const body = error instanceof HttpException ? (error.getResponse() as Record<string, unknown>) : {};
      if (!Array.isArray(body.unknown_fields)) throw error;
      throw new BadRequestException(unknownFieldsBody(body.unknown_fields as string[], 'query parameter'));
    }
  }
}

function unknownFieldsBody(unknown: string[], what = 'field') {
  return {
    error: `Unknown ${what}${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`,
    unknown_fields: unknown,
  };
}

export function createValidationPipe(): ValidationPipe {
  return new ApiValidationPipe();
}

/**
 * The query or body of a route that takes none: with ApiValidationPipe any field sent is a 400 naming it
 * (`unknown_fields`), as api.md promises nothing unknown is silently dropped.
 */
export class NoFields {}
