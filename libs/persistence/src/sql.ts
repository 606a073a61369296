// The few statements on the hot path of every scan (starting a run, storing a batch, ending a run) go to knex
// directly: MikroORM spends about a millisecond of JavaScript on each of them (unit of work, hydration, query
// building) against a tenth of that in SQLite. Everything else uses the entities.
//
// Table and column names here are the migrations' own; unqualified names resolve on PostgreSQL through the
// schema's search_path (orm-options.ts). The e2e specs read every such row back through the entities, which
// keeps the two in step.
import type { EntityManager } from '@mikro-orm/core';
import type { Knex, SqlEntityManager } from '@mikro-orm/postgresql';

export type { Knex };

/** The knex of an entity manager's connection (not of any transaction it is in). */
export function knexOf(em: EntityManager): Knex {
  return (em as unknown as SqlEntityManager).getConnection().getKnex();
}

/** A driver error for a unique or primary-key violation, from knex (which does not wrap them as MikroORM does). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** JSON columns: knex passes strings through, and both databases read them back as JSON. */
export const json = (value: unknown): string | null =>
  value === undefined || value === null ? null : JSON.stringify(value);

/** The id of an `insert … returning id` row: PostgreSQL's bigint ids arrive as strings. */
export const idOf = (row: { id: number | string }): number => Number(row.id);
