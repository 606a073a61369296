// Ends a run exactly once: a conditional update of its status (RunRepository) decides which caller publishes
// the terminal event, so a batch retried after a crash, or a stop racing the last batch, never ends a run twice.
import { Injectable } from '@nestjs/common';
import { LegacyChunkResult, ScanEventBody } from '@nso/contracts';
import { DeltaJobs, ScanEventPublisher } from '@nso/events';
import { allBatchesFailed, BatchRepository, RunRepository } from '@nso/persistence';
import { RunNotifier } from './run-notifier';

type RunRef = { scanId: number; resultId: number };

@Injectable()
export class RunFinalizer {
  constructor(
    private readonly runs: RunRepository,
    private readonly batches: BatchRepository,
    private readonly events: ScanEventPublisher,
    private readonly deltaJobs: DeltaJobs,
    private readonly notifier: RunNotifier,
  ) {}

  /**
   * Every batch has finished: the run completes (or fails, when no batch succeeded) and `scan_complete`
   * (`legacy_scan_complete` for the multiprocessing runner, with every batch's hosts) or `scan_failed` goes out,
   * unless the run had already ended.
   */
  async complete(ref: RunRef): Promise<void> {
    const ended = await this.runs.complete(ref.resultId);
    if (!ended) return;
    let terminal: ScanEventBody;
    if (ended.status === 'failed') {
      terminal = { event: 'scan_failed', scan_id: ref.scanId, error: allBatchesFailed(ended.batchesFailed) };
    } else if (ended.runner === 'multiprocessing') {
      terminal = {
        event: 'legacy_scan_complete',
        scan_id: ref.scanId,
        results: await this.legacyResults(ref.resultId),
      };
    } else {
      terminal = { event: 'scan_complete', scan_id: ref.scanId, status: 'completed' };
    }
    // scans.last_run stays the start of the latest run (set when the run was started; docs/api.md).
    await this.events.publish(ref, terminal);

    // Delta reports (issue 11): a completed run is diffed against its baseline by the delta service; a
    // confirmation rescan (trigger verify) is read by it whatever its end (a failed one verifies nothing).
    if (ended.status === 'completed' || ended.trigger === 'verify') await this.deltaJobs.enqueue(ref);
    // The owner hears of a rescan's end through its report's announcement, not as a run of its own.
    if (ended.trigger === 'verify') return;
    if (terminal.event === 'scan_failed') await this.notifier.runEnded(ref.scanId, 'failed', terminal.error);
    else await this.notifier.runEnded(ref.scanId, 'completed');
  }

  /**
   * The run cannot go on (its queue state was lost and it cannot be resumed): it ends `failed` with this reason
   * and `scan_failed` says so, unless it had already ended. Returns whether this call ended it.
   */
  async fail(ref: RunRef, error: string): Promise<boolean> {
    if (!(await this.runs.fail(ref.resultId, error))) return false;
    await this.events.publish(ref, { event: 'scan_failed', scan_id: ref.scanId, error });
    if (!(await this.rescanEnded(ref))) await this.notifier.runEnded(ref.scanId, 'failed', error);
    return true;
  }

  /** The user stopped the run: it ends `stopped` and says so, unless it had already ended. */
  async stop(ref: RunRef): Promise<boolean> {
    if (!(await this.runs.stop(ref.resultId))) return false;
    await this.events.publish(ref, { event: 'scan_stopped', scan_id: ref.scanId });
    if (!(await this.rescanEnded(ref))) await this.notifier.runEnded(ref.scanId, 'stopped');
    return true;
  }

  /**
   * Whether the run is a confirmation rescan (trigger `verify`): one that failed or was stopped still ends its
   * report's verification (its changes unverifiable), so its diff job is queued here.
   */
  private async rescanEnded(ref: RunRef): Promise<boolean> {
    const run = await this.runs.find(ref.resultId);
    if (run?.trigger !== 'verify') return false;
    await this.deltaJobs.enqueue(ref);
    return true;
  }

  private async legacyResults(resultId: number): Promise<LegacyChunkResult[]> {
    return (await this.batches.findWithHosts(resultId)).map(({ batch, hosts }) => ({
      batch_id: batch.seq,
      targets: batch.targets,
      status: batch.status === 'completed' || batch.status === 'failed' ? batch.status : 'stopped',
      exit_code: batch.exitCode,
      summary: { hosts_up: batch.hostsUp, open_ports: batch.openPorts },
      hosts: hosts.map((h) => ({
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
