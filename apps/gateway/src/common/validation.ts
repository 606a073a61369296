import { BadRequestException, ValidationError, ValidationPipe } from '@nestjs/common';

function flatten(errors: ValidationError[], parent = ''): Array<{ path: string; error: ValidationError }> {
  return errors.flatMap((error) => {
    const path = parent ? `${parent}.${error.property}` : error.property;
    return [{ path, error }, ...flatten(error.children ?? [], path)];
  });
}

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
    // is the most useful headline.
    const messages = Object.values(constraints).reverse();
    if (messages.length > 0) headlines.push(messages[0]);
    details.push(...messages);
  }
  if (missing.length > 0) return { error: 'Missing required fields', missing_fields: missing, details };
  if (unknown.length > 0) {
    return {
      error: `Unknown field${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`,
      unknown_fields: unknown,
    };
  }
  return { error: headlines.join('; ') || 'Invalid request body', details };
}

export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    stopAtFirstError: false,
    exceptionFactory: (errors) => new BadRequestException(validationErrorBody(errors)),
  });
}
