// What of an error may be logged. The ORM inlines parameter values into the SQL it runs, and the database
// driver puts that SQL into its error message (knex: "<statement> - <reason>"); PostgreSQL adds a `detail`
// that quotes the offending value ("Key (token_hash)=(…) already exists"). Those values include password
// hashes and token digests, which must never reach a log. Every log line (and every error text shown to a user
// or kept in Redis) that describes a caught error goes through logSafeError or safeErrorMessage: the one path.
import { DriverException } from '@mikro-orm/core';

/** Fields of a driver error that name schema objects or error classes, never values. */
const SCHEMA_FIELDS = ['code', 'sqlState', 'routine', 'table', 'column', 'constraint', 'dataType'] as const;

/**
 * Whether `error` comes from a database: MikroORM's DriverException (the entity paths), or the driver's own
 * error as knex rethrows it (the knex paths: batch store, import, delta, webhooks) — better-sqlite3's
 * SqliteError (`code` SQLITE_*) or pg's DatabaseError (a five-character SQLSTATE `code` with `severity`).
 */
export function isDatabaseError(error: unknown): boolean {
  if (error instanceof DriverException) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  if (error.name === 'SqliteError' || code.startsWith('SQLITE_')) return true;
  return (
    /^[0-9A-Z]{5}$/.test(code) &&
    ('severity' in error || 'routine' in error || error.constructor?.name === 'DatabaseError')
  );
}

/**
 * One line for a database error: its class and code and the schema objects it names, "statement and values
 * withheld"; for anything else its message. For texts a user or Redis keeps (a batch's error, a failed job's
 * reason) and one-line log messages.
 */
export function safeErrorMessage(error: unknown): string {
  if (!isDatabaseError(error)) return error instanceof Error ? error.message : String(error);
  const fields = error as Record<string, unknown>;
  const facts = SCHEMA_FIELDS.filter(
    (key) => typeof fields[key] === 'string' || typeof fields[key] === 'number',
  )
    .map((key) => `${key}=${String(fields[key])}`)
    .join(', ');
  const name = (error as Error).name === 'error' ? 'DatabaseError' : (error as Error).name;
  return `${name} (${facts || 'no code'}; statement and values withheld)`;
}

/**
 * A description of `error` for the log: for a database error (isDatabaseError), its class, its code and the
 * schema objects it names, then the stack frames, and never the statement, its values or the driver's message
 * (which can quote a value, as in `invalid input syntax for type integer: "…"`); for anything else, its stack.
 */
export function logSafeError(error: unknown): string {
  if (!isDatabaseError(error)) {
    return error instanceof Error ? (error.stack ?? error.message) : String(error);
  }
  const frames = ((error as Error).stack ?? '')
    .split('\n')
    .filter((line) => line.trim().startsWith('at '))
    .join('\n');
  return `${safeErrorMessage(error)}${frames ? `\n${frames}` : ''}`;
}

/**
 * What a BullMQ processor rethrows: BullMQ keeps a failed job's message in Redis (`failedReason`, shown by its
 * tools and logged by our `failed` handlers), so a database error becomes a plain Error with safeErrorMessage
 * (its stack frames kept); anything else is returned as it is.
 */
export function withoutStatement(error: unknown): unknown {
  if (!isDatabaseError(error)) return error;
  const safe = new Error(safeErrorMessage(error));
  safe.stack = logSafeError(error);
  return safe;
}
