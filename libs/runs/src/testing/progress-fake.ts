// RunProgressStore in memory, over FakeRunState (the run's batch counts), with the real store's contract: a
// finished batch's late report is not stored, a completed batch's addresses count once, the figures are
// runProgressOf's.
import { BatchProgressReport, runProgressOf } from '../run-progress';
import type { RunProgressSnapshot } from '../run-progress.store';
import type { FakeRunState } from './run-fakes';

interface Progress {
  hostsTotal?: number;
  startedAt?: number;
  hostsFinished: number;
  running: Map<number, BatchProgressReport>;
}

export class FakeRunProgressStore {
  runs = new Map<number, Progress>();
  now: () => number = Date.now;

  constructor(private readonly state: FakeRunState) {}

  private of(resultId: number): Progress {
    let progress = this.runs.get(resultId);
    if (!progress) this.runs.set(resultId, (progress = { hostsFinished: 0, running: new Map() }));
    return progress;
  }

  async begin(resultId: number, hostsTotal: number): Promise<void> {
    Object.assign(this.of(resultId), { hostsTotal, startedAt: this.now(), hostsFinished: 0 });
  }

  async report(resultId: number, seq: number, report: BatchProgressReport) {
    const run = this.state.runs.get(resultId);
    if (run && !run.finished.has(seq)) {
      const progress = this.of(resultId);
      progress.running.set(seq, report);
      progress.startedAt ??= this.now();
    }
    return this.snapshot(resultId);
  }

  async finish(resultId: number, seq: number, kind: 'done' | 'failed') {
    const progress = this.of(resultId);
    const report = progress.running.get(seq);
    if (report && progress.running.delete(seq) && kind === 'done')
      progress.hostsFinished += report.hostsTotal;
    return this.snapshot(resultId);
  }

  async snapshot(resultId: number): Promise<RunProgressSnapshot | undefined> {
    const run = this.state.runs.get(resultId);
    if (!run) return undefined;
    const progress = this.of(resultId);
    const view = runProgressOf({ ...run, ...progress, now: this.now() });
    return { ...view, running: new Map(progress.running) };
  }
}
