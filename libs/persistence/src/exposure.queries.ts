// What the expected-ports routes read (docs/delta.md "Expected ports"): a scan's latest completed run that is not a
// confirmation rescan, and that run's hosts, ports and coverage (RunHistoryQueries.contents, three statements).
import type { EntityManager } from '@mikro-orm/core';
import { RunHistoryQueries, type RunContents } from './run-history.queries';
import { knexOf } from './sql';

/** The run a scan's exposure is judged on: its id, when it finished, and the nmap flags it ran with. */
export interface JudgedRunRecord {
  resultId: number;
  trigger: string;
  finishedAt: Date | null;
  nmapFlags: string[];
}

/** Provided by PersistenceModule, created after the migrations. */
export class ExposureQueries {
  private readonly history: RunHistoryQueries;

  constructor(private readonly em: EntityManager) {
    this.history = new RunHistoryQueries(em);
  }

  /**
   * The scan's latest completed run (highest id: the order runs were created in) whose trigger is not `verify`:
   * a rescan of a report's changes looks at a few ports only, so it says nothing of the others. Undefined when
   * the scan has no such run.
   */
  async latestJudgedRun(scanId: number): Promise<JudgedRunRecord | undefined> {
    const row: Record<string, unknown> | undefined = await knexOf(this.em)('scan_results')
      .where({ scan_id: scanId, status: 'completed' })
      .whereNot('trigger', 'verify')
      .orderBy('id', 'desc')
      .first('id', 'trigger', 'finished_at', 'nmap_flags');
    if (!row) return undefined;
    const flags = row.nmap_flags;
    return {
      resultId: Number(row.id),
      trigger: String(row.trigger),
      finishedAt: row.finished_at ? new Date(row.finished_at as string) : null,
      nmapFlags: (typeof flags === 'string' ? JSON.parse(flags) : (flags ?? [])) as string[],
    };
  }

  /** The run's hosts with their ports, and the targets of its batches by outcome (RunHistoryQueries.contents). */
  contents(resultId: number): Promise<RunContents> {
    return this.history.contents(resultId);
  }
}
