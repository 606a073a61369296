// The scans table, as far as a run touches it: the scan a run is started from, and its last_run when a run ends.
import type { EntityManager } from '@mikro-orm/core';
import { Scan } from './entities';
import { knexOf } from './sql';

/** Provided by PersistenceModule, created after the migrations. */
export class ScanRepository {
  constructor(private readonly em: EntityManager) {}

  /** The scan; throws MikroORM's NotFoundError when it does not exist. */
  findOrFail(scanId: number): Promise<Scan> {
    return this.em.fork().findOneOrFail(Scan, scanId);
  }

  /** A run of the scan ended at `at`. One statement through knex: it runs beside every scan's last event. */
  async markLastRun(scanId: number, at: Date): Promise<void> {
    await knexOf(this.em)('scans').where({ id: scanId }).update({ last_run: at });
  }
}
