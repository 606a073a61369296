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
