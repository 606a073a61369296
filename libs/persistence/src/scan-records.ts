// The rows a scan start writes: the scan and its first run, in one transaction, through knex (sql.ts) because
// this is on the path of every POST /api/scans/start. The e2e specs read them back through the entities.
import type { EntityManager } from '@mikro-orm/core';
import type { ScanRunner } from './entities';
import { idOf, json, knexOf } from './sql';

export interface OneOffScanInput {
  ownerId: number;
  projectId: number;
  name: string;
  targets: string[];
  /** Each host name among the targets with the addresses it was resolved to (see ScanResult.resolvedNames). */
  resolvedNames: Record<string, string[]>;
  nmapFlags: string[];
  runner: ScanRunner;
  chunkSize: number;
  concurrency: number;
  targetsTotal: number;
  batchesTotal: number;
}

/** Stores a one-off scan (POST /api/scans/start) and its queued run; returns both ids. */
export async function insertOneOffScan(
  em: EntityManager,
  input: OneOffScanInput,
): Promise<{ scanId: number; resultId: number }> {
  const now = new Date();
  const targets = json(input.targets);
  const nmapFlags = json(input.nmapFlags);
  const settings = { runner: input.runner, chunk_size: input.chunkSize, concurrency: input.concurrency };
  return knexOf(em).transaction(async (trx) => {
    const [scan] = await trx('scans').insert(
      {
        owner_id: input.ownerId,
        project_id: input.projectId,
        name: input.name,
        description: null,
        targets,
        ports: null,
        nmap_flags: nmapFlags,
        ...settings,
        interval_minutes: null,
        is_active: true,
        is_scheduled: false,
        is_one_off: true,
        last_run: now,
        next_run: null,
        created_at: now,
        updated_at: now,
      },
      ['id'],
    );
    const scanId = idOf(scan);
    const [result] = await trx('scan_results').insert(
      {
        scan_id: scanId,
        status: 'queued',
        nmap_flags: nmapFlags,
        targets,
        resolved_names: json(input.resolvedNames),
        ...settings,
        targets_total: input.targetsTotal,
        batches_total: input.batchesTotal,
        created_at: now,
      },
      ['id'],
    );
    return { scanId, resultId: idOf(result) };
  });
}
