// Tells a run's owner, on their `/api/stream`, that the run ended. Called once per run, by whichever caller ended it
// (RunFinalizer): a lost notification is logged, never allowed to fail the ending itself.
import { Injectable, Logger } from '@nestjs/common';
import type { Notification } from '@nso/contracts';
import { Notifier } from '@nso/events';
import { safeErrorMessage, ScanRepository } from '@nso/persistence';

/** How a run ended, as RunRepository records it. */
export type RunOutcome = 'completed' | 'stopped' | 'failed';

/** The notification for a run of scan `name` (id `scanId`) that ended `outcome`; `error` for a failed run. */
export function runEndedNotification(
  scan: { id: number; name: string },
  outcome: RunOutcome,
  error?: string,
): Notification {
  const label = `Scan "${scan.name}" (#${scan.id})`;
  if (outcome === 'completed') return { message: `${label} completed`, type: 'success' };
  if (outcome === 'stopped') return { message: `${label} was stopped`, type: 'warning' };
  return { message: `${label} failed${error ? `: ${error}` : ''}`, type: 'error' };
}

@Injectable()
export class RunNotifier {
  private readonly logger = new Logger(RunNotifier.name);

  constructor(
    private readonly scans: ScanRepository,
    private readonly notifier: Notifier,
  ) {}

  /** Notifies the owner of the run's scan. Never rejects. */
  async runEnded(scanId: number, outcome: RunOutcome, error?: string): Promise<void> {
    try {
      const scan = await this.scans.findOrFail(scanId);
      await this.notifier.notifyUser(scan.owner.id, runEndedNotification(scan, outcome, error));
    } catch (failure) {
      this.logger.warn(`notifying the end of a run of scan ${scanId} failed: ${safeErrorMessage(failure)}`);
    }
  }
}
