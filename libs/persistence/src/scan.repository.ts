// The scans table, as far as a run touches it: the scan a run is started from.
import type { EntityManager } from '@mikro-orm/core';
import { Scan } from './entities';

/** Provided by PersistenceModule, created after the migrations. */
export class ScanRepository {
  constructor(private readonly em: EntityManager) {}

  /** The scan; throws MikroORM's NotFoundError when it does not exist. */
  findOrFail(scanId: number): Promise<Scan> {
    return this.em.fork().findOneOrFail(Scan, scanId);
  }
}
