// What of an error may be logged. The ORM inlines parameter values into the SQL it runs, and the database
// driver puts that SQL into its error message (knex: "<statement> - <reason>"); PostgreSQL adds a `detail`
// that quotes the offending value ("Key (token_hash)=(…) already exists"). Those values include password
// hashes and token digests, which must never reach a log.
import { DriverException } from '@mikro-orm/core';

/** Fields of a driver error that name schema objects or error classes, never values. */
const SCHEMA_FIELDS = ['code', 'sqlState', 'routine', 'table', 'column', 'constraint', 'dataType'] as const;

/**
 * A description of `error` for the log: for a database driver error, its class, its code and the schema
 * objects it names, then the stack frames, and never the statement, its values or the driver's message
 * (which can quote a value, as in `invalid input syntax for type integer: "…"`); for anything else, its stack.
 */
export function logSafeError(error: unknown): string {
  if (!(error instanceof DriverException)) {
    return error instanceof Error ? (error.stack ?? error.message) : String(error);
  }
  const fields = error as unknown as Record<string, unknown>;
  const facts = SCHEMA_FIELDS.filter(
    (key) => typeof fields[key] === 'string' || typeof fields[key] === 'number',
  )
    .map((key) => `${key}=${String(fields[key])}`)
    .join(', ');
  const frames = (error.stack ?? '')
    .split('\n')
    .filter((line) => line.trim().startsWith('at '))
    .join('\n');
  return `${error.name} (${facts || 'no code'}; statement and values withheld)${frames ? `\n${frames}` : ''}`;
}
