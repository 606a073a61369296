// Domain errors of a run's commands; the gateway maps each to its HTTP answer.

/** The scan already has a queued or running run: one scan never runs twice at once. */
export class RunActiveError extends Error {
  override readonly name = 'RunActiveError';

  constructor(
    readonly scanId: number,
    readonly resultId: number,
  ) {
    super(`Scan ${scanId} is already running (result ${resultId})`);
  }
}

/** Another change of the scan's schedule held its lock for too long (ScanSchedules.serialized): try again. */
export class ScheduleBusyError extends Error {
  override readonly name = 'ScheduleBusyError';

  constructor(readonly scanId: number) {
    super(`The schedule of scan ${scanId} is being changed by another request; try again`);
  }
}

/** The run's batches could not be put on the queue (Redis unreachable); the run is marked failed. */
export class QueueUnavailableError extends Error {
  override readonly name = 'QueueUnavailableError';

  constructor(override readonly cause: unknown) {
    super('The queue is not available; try again');
  }
}

/**
 * No approved, online scanner client covers any of the run's addresses (docs/clients.md, delegation): nothing is
 * started or stored. `targets` names them as CIDRs (a single address bare).
 */
export class NoCoveringClientError extends Error {
  override readonly name = 'NoCoveringClientError';

  constructor(readonly targets: string[]) {
    const listed =
      targets.slice(0, 20).join(', ') + (targets.length > 20 ? ` and ${targets.length - 20} more` : '');
    super(`No approved, online scanner client covers the targets: ${listed}`);
  }
}

/** A result names a task that is not this client's task of this run (or no task at all). */
export class AgentTaskNotFoundError extends Error {
  override readonly name = 'AgentTaskNotFoundError';

  constructor() {
    super('Task not found');
  }
}

/** A result for a task that no longer takes results: completed (with other results), failed or cancelled. */
export class AgentTaskClosedError extends Error {
  override readonly name = 'AgentTaskClosedError';

  constructor(readonly taskStatus: string) {
    super(`Task is ${taskStatus}; it takes no more results`);
  }
}

/** A result names addresses that were not given to the task: nothing of it is stored. */
export class AgentResultAddressesError extends Error {
  override readonly name = 'AgentResultAddressesError';

  constructor(readonly addresses: string[]) {
    const listed =
      addresses.slice(0, 20).join(', ') + (addresses.length > 20 ? ` and ${addresses.length - 20} more` : '');
    super(`Addresses not in this task: ${listed}`);
  }
}

/** A batch's result came from a worker pool that was revoked (or disabled) while it ran: it is refused. */
export class ClientRevokedError extends Error {
  override readonly name = 'ClientRevokedError';

  constructor(readonly clientId: string) {
    super(`worker pool ${clientId} was revoked while the batch ran; its result is refused`);
  }
}

/** The scan was stopped while an nmap XML import was being stored: the import's rows are removed. */
export class ImportStoppedError extends Error {
  override readonly name = 'ImportStoppedError';

  constructor(
    readonly scanId: number,
    readonly resultId: number,
  ) {
    super(
      `Scan ${scanId} was stopped while its import (result ${resultId}) was being stored; nothing was imported`,
    );
  }
}
