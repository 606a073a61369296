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

/** Whether the connection is PostgreSQL's (the product's other database is SQLite). */
export const isPostgres = (knex: Knex): boolean => knex.client.dialect === 'postgresql';

/**
 * Runs one statement written for the connection's database, with `?` placeholders; gives the rows it returned
 * (a select, or `returning`) and how many rows it inserted, updated or deleted. knex's raw answer differs by
 * driver (pg's result object; better-sqlite3's rows for a statement that returns rows, else its run info).
 */
export async function execute<Row = Record<string, unknown>>(
  knex: Knex,
  sql: string,
  bindings: readonly Knex.RawBinding[],
): Promise<{ rows: Row[]; changes: number }> {
  const answer: unknown = await knex.raw(sql, bindings as Knex.RawBinding[]);
  if (Array.isArray(answer)) return { rows: answer as Row[], changes: answer.length };
  const result = answer as { rows?: Row[]; rowCount?: number | null; changes?: number };
  return { rows: result.rows ?? [], changes: Number(result.rowCount ?? result.changes ?? 0) };
}
