// The scan_results table: every write of a run's row is in this file. Status changes are conditional updates
// (an ended run never moves again), so racing workers, a stop and the reconciler agree on one ending. The
// statements on the path of every scan go to knex (sql.ts); the counters that move with a batch row are the
// `runCounters` statements, run inside BatchRepository's transactions.
import type { EntityManager } from '@mikro-orm/core';
import { ScanResult, type RunTrigger, type ScanRunner } from './entities';
import { type FireInput, insertOneOffScan, insertStartedFire, markScanRun } from './scan.repository';
import { idOf, json, knexOf, type Knex } from './sql';

const ACTIVE = ['queued', 'running'] as const;

/** A run's own settings, snapshotted when it starts. */
interface RunSettingsInput {
  targets: string[];
  /** Each host name among the targets with the addresses it was resolved to (see ScanResult.resolvedNames). */
  resolvedNames: Record<string, string[]>;
  nmapFlags: string[];
  runner: ScanRunner;
  chunkSize: number;
  concurrency: number;
  targetsTotal: number;
  batchesTotal: number;
  /** The run's parts by scanner client (ScanResult.delegation). */
  delegation: Array<{ clients: string[]; ranges: string[] }>;
  /** Addresses no client covered (ScanResult.unassignedTargets). */
  unassignedTargets: string[];
}

/** POST /api/scans/start: the one-off scan and its run. */
export interface OneOffScanInput extends RunSettingsInput {
  ownerId: number;
  projectId: number;
  name: string;
}

/** A new run of a stored scan (execute, schedule). */
export interface RunInput extends RunSettingsInput {
  scanId: number;
  trigger: RunTrigger;
  /** The schedule fire that starts this run: its row is written in the same transaction. */
  fire?: FireInput;
}

/**
 * An nmap XML file imported as a run of a stored scan (trigger `import`): one batch holding every address the
 * file lists, stored by its importer rather than cut and delegated.
 */
export interface ImportedRunInput {
  scanId: number;
  runner: ScanRunner;
  nmapFlags: string[];
  /** The file's addresses, each once: the run's targets and its one batch's. */
  targets: string[];
}

/** How a run ended when its last batch finished (RunRepository.complete). */
export interface CompletedRun {
  status: 'completed' | 'failed';
  /** Batches that failed after their last attempt; with status failed, all of them. */
  batchesFailed: number;
  runner: ScanRunner;
  /** What started the run (`verify`: a confirmation rescan, read by the delta service whatever its end). */
  trigger: RunTrigger;
  finishedAt: Date;
}

interface BatchTotals {
  status: string;
  batches: number | string;
  hosts_up: number | string;
  open_ports: number | string;
}

/** Provided by PersistenceModule, created after the migrations. */
export class RunRepository {
  constructor(private readonly em: EntityManager) {}

  /** Stores a one-off scan (POST /api/scans/start) and its queued run in one transaction; returns both ids. */
  async insertOneOff(input: OneOffScanInput): Promise<{ scanId: number; resultId: number }> {
    const now = new Date();
    const targets = json(input.targets);
    const nmapFlags = json(input.nmapFlags);
    const settings = { runner: input.runner, chunk_size: input.chunkSize, concurrency: input.concurrency };
    return knexOf(this.em).transaction(async (trx) => {
      const scanId = await insertOneOffScan(trx, input, now);
      const [result] = await trx('scan_results').insert(
        {
          scan_id: scanId,
          status: 'queued',
          nmap_flags: nmapFlags,
          targets,
          resolved_names: json(input.resolvedNames),
          delegation: json(input.delegation),
          unassigned_targets: json(input.unassignedTargets),
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

  /**
   * Stores a queued run of a stored scan (execute, schedule, verify) with its settings snapshotted, and marks the
   * scan's last_run (not for a `verify` rescan), in one transaction; returns the run's id. With `fire`, the fire's row too, and DuplicateFireError
   * (nothing stored) when that fire was handled before.
   */
  async insert(input: RunInput): Promise<number> {
    const now = new Date();
    return knexOf(this.em).transaction(async (trx) => {
      const [result] = await trx('scan_results').insert(
        {
          scan_id: input.scanId,
          status: 'queued',
          trigger: input.trigger,
          nmap_flags: json(input.nmapFlags),
          targets: json(input.targets),
          resolved_names: json(input.resolvedNames),
          delegation: json(input.delegation),
          unassigned_targets: json(input.unassignedTargets),
          runner: input.runner,
          chunk_size: input.chunkSize,
          concurrency: input.concurrency,
          targets_total: input.targetsTotal,
          batches_total: input.batchesTotal,
          created_at: now,
        },
        ['id'],
      );
      const resultId = idOf(result);
      if (input.fire)
        await insertStartedFire(trx, { ...input.fire, scanId: input.scanId, resultId, firedAt: now });
      // A confirmation rescan is the delta service's own: the scan's last_run stays the run it confirms.
      if (input.trigger !== 'verify') await markScanRun(trx, input.scanId, now);
      return resultId;
    });
  }

  /**
   * Stores a queued run of an imported file (trigger `import`): one batch, chunk_size covering every address
   * (at least 1), concurrency 1; no delegation, resolved names or unassigned targets, and the scan's last_run
   * untouched (an import is no run the scan made). Its batch starts it (BatchRepository.start). Returns its id.
   */
  async insertImported(input: ImportedRunInput): Promise<number> {
    const [result] = await knexOf(this.em)('scan_results').insert(
      {
        scan_id: input.scanId,
        status: 'queued',
        trigger: 'import',
        runner: input.runner,
        nmap_flags: json(input.nmapFlags),
        targets: json(input.targets),
        chunk_size: Math.max(1, input.targets.length),
        concurrency: 1,
        targets_total: input.targets.length,
        batches_total: 1,
        created_at: new Date(),
      },
      ['id'],
    );
    return idOf(result);
  }

  /**
   * Deletes the run with its batches, hosts and ports (the foreign keys cascade): an import that could not be
   * stored whole leaves nothing half-imported behind.
   */
  async remove(resultId: number): Promise<void> {
    await knexOf(this.em)('scan_results').where({ id: resultId }).delete();
  }

  /**
   * Adds addresses (CIDRs) to the run's unassigned_targets: a batch no client could take after all. In a
   * transaction, so two batches handed on at once both land.
   */
  async addUnassigned(resultId: number, targets: string[]): Promise<void> {
    await knexOf(this.em).transaction(async (trx) => {
      const row = await trx('scan_results').select('unassigned_targets').where({ id: resultId }).first();
      if (!row) return;
      const raw: unknown = row.unassigned_targets;
      const known: string[] = typeof raw === 'string' ? JSON.parse(raw) : ((raw as string[] | null) ?? []);
      const merged = [...known, ...targets.filter((t) => !known.includes(t))];
      await trx('scan_results')
        .where({ id: resultId })
        .update({ unassigned_targets: json(merged) });
    });
  }

  /** The run, or null. */
  find(resultId: number): Promise<ScanResult | null> {
    return this.em.fork().findOne(ScanResult, resultId);
  }

  /** The run; throws MikroORM's NotFoundError when it does not exist. */
  findOrFail(resultId: number): Promise<ScanResult> {
    return this.em.fork().findOneOrFail(ScanResult, resultId);
  }

  /** The scan's queued or running runs (one, unless something went wrong). */
  findActive(scanId: number): Promise<ScanResult[]> {
    return this.em.fork().find(ScanResult, { scan: scanId, status: { $in: [...ACTIVE] } });
  }

  /** The ids of every queued or running run created before `before`, oldest first. */
  async findActiveIds(before: Date): Promise<number[]> {
    const runs = await this.em
      .fork()
      .find(
        ScanResult,
        { status: { $in: [...ACTIVE] }, createdAt: { $lt: before } },
        { fields: ['id'], orderBy: { id: 'asc' } },
      );
    return runs.map((run) => run.id);
  }

  /**
   * Ends an active run as failed with `error`; false (nothing changed) when it had already ended. `finishedAt`
   * null leaves it unset: the run never started (its batches could not be enqueued).
   */
  async fail(resultId: number, error: string, finishedAt: Date | null = new Date()): Promise<boolean> {
    const changed = await this.em
      .fork()
      .nativeUpdate(
        ScanResult,
        { id: resultId, status: { $in: [...ACTIVE] } },
        { status: 'failed', error, ...(finishedAt ? { finishedAt } : {}) },
      );
    return changed === 1;
  }

  /** Ends an active run as stopped; false (nothing changed) when it had already ended. */
  async stop(resultId: number): Promise<boolean> {
    const changed = await this.em
      .fork()
      .nativeUpdate(
        ScanResult,
        { id: resultId, status: { $in: [...ACTIVE] } },
        { status: 'stopped', finishedAt: new Date() },
      );
    return changed === 1;
  }

  /**
   * Every batch has finished: the run ends `completed`, or `failed` when no batch succeeded, with its counters
   * set from the batch rows (summed in SQL: a /8 run has 65,536 of them). Returns undefined when the run had
   * already ended (a retried last batch, or a stop that came first). Two statements, through knex: this is on
   * the path of every scan's last event. `finishedAt` is now, but for an imported file (its own finish time).
   */
  async complete(resultId: number, finishedAt = new Date()): Promise<CompletedRun | undefined> {
    const knex = knexOf(this.em);
    const totals: BatchTotals[] = await knex('batches')
      .select('status')
      .count({ batches: '*' })
      .select(knex.raw('coalesce(sum(hosts_up), 0) as hosts_up'))
      .select(knex.raw('coalesce(sum(open_ports), 0) as open_ports'))
      .where({ result_id: resultId })
      .groupBy('status');
    const of = (status: string) => totals.find((t) => t.status === status);
    const done = Number(of('completed')?.batches ?? 0);
    const failed = Number(of('failed')?.batches ?? 0);
    const status = done === 0 && failed > 0 ? 'failed' : 'completed';
    const ended: Array<{ runner: ScanRunner; trigger: RunTrigger }> = await knex('scan_results')
      .where({ id: resultId })
      .whereIn('status', [...ACTIVE])
      .update(
        {
          status,
          finished_at: finishedAt,
          batches_done: done,
          batches_failed: failed,
          hosts_up: Number(of('completed')?.hosts_up ?? 0),
          open_ports: Number(of('completed')?.open_ports ?? 0),
          error: status === 'failed' ? allBatchesFailed(failed) : null,
        },
        ['runner', 'trigger'],
      );
    if (ended.length !== 1) return undefined;
    return { status, batchesFailed: failed, runner: ended[0].runner, trigger: ended[0].trigger, finishedAt };
  }
}

/** The error of a run none of whose batches succeeded (stored, and sent with `scan_failed`). */
export const allBatchesFailed = (failed: number): string => `all ${failed} batches failed`;

/**
 * The run's counters that move with one of its batch rows, inside that row's transaction (BatchRepository):
 * kept here so that scan_results is written from this file only.
 */
export const runCounters = {
  /** A batch started: its run is running, if it was still queued. */
  markRunning: (trx: Knex.Transaction, resultId: number, at: Date) =>
    trx('scan_results')
      .where({ id: resultId, status: 'queued' })
      .update({ status: 'running', started_at: at }),

  /**
   * An imported run's facts known once its file was read whole (batch-pieces.ts): its targets (one batch holds them
   * all, so they are its chunk), options and start.
   */
  importedFacts: (
    trx: Knex.Transaction,
    resultId: number,
    facts: { targets: string[]; nmapFlags: string[]; startedAt: Date },
  ) =>
    trx('scan_results')
      .where({ id: resultId })
      .update({
        targets: json(facts.targets),
        targets_total: facts.targets.length,
        chunk_size: Math.max(1, facts.targets.length),
        nmap_flags: json(facts.nmapFlags),
        started_at: facts.startedAt,
      }),

  /** A straggler was split into `count` new batches (BatchSplitRepository): the run has that many more. */
  growTotal: (trx: Knex.Transaction, resultId: number, count: number) =>
    trx('scan_results')
      .where({ id: resultId })
      .update({ batches_total: trx.raw('batches_total + ?', [count]) }),

  /** A batch failed after its last attempt. */
  countFailed: (trx: Knex.Transaction, resultId: number) =>
    trx('scan_results')
      .where({ id: resultId })
      .update({ batches_failed: trx.raw('batches_failed + 1') }),

  /** A batch that had failed runs again: it no longer counts as failed. */
  uncountFailed: (trx: Knex.Transaction, resultId: number) =>
    trx('scan_results')
      .where({ id: resultId })
      .update({ batches_failed: trx.raw('batches_failed - 1') }),

  /** A batch's result was stored; `reclaimedFailed`: it had been counted as failed by an earlier attempt. */
  countStored: (
    trx: Knex.Transaction,
    resultId: number,
    stored: { hostsUp: number; openPorts: number; reclaimedFailed: boolean },
  ) =>
    trx('scan_results')
      .where({ id: resultId })
      .update({
        batches_done: trx.raw('batches_done + 1'),
        ...(stored.reclaimedFailed ? { batches_failed: trx.raw('batches_failed - 1') } : {}),
        hosts_up: trx.raw('hosts_up + ?', [stored.hostsUp]),
        open_ports: trx.raw('open_ports + ?', [stored.openPorts]),
      }),
};
