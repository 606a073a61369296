// The database errors a caller outside this library may need to tell apart, without importing MikroORM or knex.
import { NotFoundError, UniqueConstraintViolationException } from '@mikro-orm/core';
import { isUniqueViolation } from './sql';

/**
 * True for a unique or primary-key violation, whether MikroORM wrapped it (UniqueConstraintViolationException)
 * or it came from a knex statement (SQLite `SQLITE_CONSTRAINT_UNIQUE`/`_PRIMARYKEY`, PostgreSQL `23505`).
 */
export function isDuplicateError(error: unknown): boolean {
  return error instanceof UniqueConstraintViolationException || isUniqueViolation(error);
}

/** True for MikroORM's NotFoundError (a `findOneOrFail` that found no row). */
export function isNotFoundError(error: unknown): boolean {
  return error instanceof NotFoundError;
}
