// Ends a run exactly once: a conditional update of its status decides which caller publishes the terminal
// event, so a batch retried after a crash, or a stop racing the last batch, never ends a run twice.
import { EntityManager } from '@mikro-orm/core';
import { Injectable } from '@nestjs/common';
import { LegacyChunkResult, ScanEventBody } from '@nso/contracts';
import { DeltaJobs, ScanEventPublisher } from '@nso/events';
import { Batch, Host, knexOf, Scan, ScanResult } from '@nso/persistence';

const ACTIVE = ['queued', 'running'] as const;

interface BatchTotals {
  status: string;
  batches: number | string;
  hosts_up: number | string;
  open_ports: number | string;
}

@Injectable()
export class RunFinalizer {
  constructor(
    private readonly em: EntityManager,
    private readonly events: ScanEventPublisher,
    private readonly deltaJobs: DeltaJobs,
  ) {}

  /** Every batch has finished: the run completes (or fails, when no batch succeeded). */
  async complete(ref: { scanId: number; resultId: number }): Promise<void> {
    // Through knex (see @nso/persistence sql.ts): this is on the path of every scan's last event.
    const knex = knexOf(this.em);
    // Counted in SQL: a run of a /8 has 65,536 batch rows, each with its target list.
    const totals: BatchTotals[] = await knex('batches')
      .select('status')
      .count({ batches: '*' })
      .select(knex.raw('coalesce(sum(hosts_up), 0) as hosts_up'))
      .select(knex.raw('coalesce(sum(open_ports), 0) as open_ports'))
      .where({ result_id: ref.resultId })
      .groupBy('status');
    const of = (status: string) => totals.find((t) => t.status === status);
    const done = Number(of('completed')?.batches ?? 0);
    const failed = Number(of('failed')?.batches ?? 0);
    const status = done === 0 && failed > 0 ? 'failed' : 'completed';
    const finishedAt = new Date();
    const ended: Array<{ runner: string }> = await knex('scan_results')
      .where({ id: ref.resultId })
      .whereIn('status', [...ACTIVE])
      .update(
        {
          status,
          finished_at: finishedAt,
          batches_done: done,
          batches_failed: failed,
          hosts_up: Number(of('completed')?.hosts_up ?? 0),
          open_ports: Number(of('completed')?.open_ports ?? 0),
          error: status === 'failed' ? `all ${failed} batches failed` : null,
        },
        ['runner'],
      );
    if (ended.length !== 1) return;

    const em = this.em.fork();
    let terminal: ScanEventBody;
    if (status === 'failed') {
      terminal = { event: 'scan_failed', scan_id: ref.scanId, error: `all ${failed} batches failed` };
    } else if (ended[0].runner === 'multiprocessing') {
      terminal = {
        event: 'legacy_scan_complete',
        scan_id: ref.scanId,
        results: await this.legacyResults(em, ref.resultId),
      };
    } else {
      terminal = { event: 'scan_complete', scan_id: ref.scanId, status: 'completed' };
    }
    await Promise.all([
      this.events.publish(ref, terminal),
      em.nativeUpdate(Scan, { id: ref.scanId }, { lastRun: finishedAt }),
    ]);

    // Delta reports (issue 11): a completed run is diffed against its baseline by the delta service.
    if (status === 'completed') await this.deltaJobs.enqueue(ref);
  }

  /**
   * The run cannot go on (its queue state was lost and it cannot be resumed): it ends `failed` with this reason
   * and `scan_failed` says so, unless it had already ended. Returns whether this call ended it.
   */
  async fail(ref: { scanId: number; resultId: number }, error: string): Promise<boolean> {
    const changed = await this.em
      .fork()
      .nativeUpdate(
        ScanResult,
        { id: ref.resultId, status: { $in: [...ACTIVE] } },
        { status: 'failed', finishedAt: new Date(), error },
      );
    if (changed !== 1) return false;
    await this.events.publish(ref, { event: 'scan_failed', scan_id: ref.scanId, error });
    return true;
  }

  /** The user stopped the run: it ends `stopped` and says so, unless it had already ended. */
  async stop(scanId: number, resultId: number): Promise<boolean> {
    const changed = await this.em
      .fork()
      .nativeUpdate(
        ScanResult,
        { id: resultId, status: { $in: [...ACTIVE] } },
        { status: 'stopped', finishedAt: new Date() },
      );
    if (changed !== 1) return false;
    await this.events.publish({ scanId, resultId }, { event: 'scan_stopped', scan_id: scanId });
    return true;
  }

  private async legacyResults(em: EntityManager, resultId: number): Promise<LegacyChunkResult[]> {
    const batches = await em.find(Batch, { result: resultId }, { orderBy: { seq: 'asc' } });
    const hosts = await em.find(
      Host,
      { batch: { $in: batches.map((b) => b.id) } },
      { populate: ['ports'], orderBy: { id: 'asc' } },
    );
    return batches.map((batch) => ({
      batch_id: batch.seq,
      targets: batch.targets,
      status: batch.status === 'completed' || batch.status === 'failed' ? batch.status : 'stopped',
      exit_code: batch.exitCode,
      summary: { hosts_up: batch.hostsUp, open_ports: batch.openPorts },
      hosts: hosts
        .filter((h) => h.batch.id === batch.id)
        .map((h) => ({
          address: h.address,
          state: h.state,
          hostnames: h.hostnames.map((n) => ({ name: n.name, type: n.type ?? null })),
          ports: h.ports.getItems().map((p) => ({
            protocol: p.protocol,
            port: p.port,
            state: p.state,
            service: p.serviceName ?? null,
          })),
        })),
    }));
  }
}
