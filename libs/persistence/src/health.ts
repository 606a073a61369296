import type { EntityManager } from '@mikro-orm/core';

/** True when the database answers a trivial query; for the health endpoint, so it never throws. */
export async function checkDatabase(em: EntityManager): Promise<boolean> {
  try {
    await em.getConnection().execute('select 1');
    return true;
  } catch {
    return false;
  }
}

/** The database check of the health endpoint, injectable. Provided by PersistenceModule. */
export class DatabaseHealth {
  constructor(private readonly em: EntityManager) {}

  /** True when the database answers `select 1`; false on any error (never throws, never waits for a timeout). */
  check(): Promise<boolean> {
    return checkDatabase(this.em.fork());
  }
}
