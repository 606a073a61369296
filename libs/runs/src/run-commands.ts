// The commands of a run's domain and what they answer: what apps send to RunService (and, through it, to its
// collaborators) and read back. Plain shapes, no Nest.
import type { ResolvedNames, ScopeError } from '@nso/nmap';
import type { FireInput, HostResultInput, HostRows, RunTrigger, ScanRunner } from '@nso/persistence';
import type { PartSize } from './delegation';
import type { NoCoveringClientError } from './run.errors';

/** How a run is cut and driven: seed 000's settings. */
export interface RunSettings {
  /** Target specs as the user gave them (addresses, ranges, CIDRs, host names). */
  targets: string[];
  /** nmap options, before the policy normalises them. */
  nmapFlags: string[];
  runner: ScanRunner;
  chunkSize: number;
  concurrency: number;
  /**
   * Delegate only to these clients (of those approved and online); absent: to any. A confirmation rescan goes
   * through the clients that scanned the run it confirms.
   */
  clientIds?: readonly string[];
}

/** POST /api/scans/start: a scan that exists for this one run. */
export interface StartOneOffCommand extends RunSettings {
  ownerId: number;
  projectId: number;
  name: string;
}

/** A new run of a stored scan definition (`GET /api/scans/{id}/execute`, or a fire of its schedule). */
export interface StartRunCommand {
  scanId: number;
  trigger: Exclude<RunTrigger, 'api-start'>;
  /** The schedule fire behind a `schedule` run: recorded with the run, once (DuplicateFireError otherwise). */
  fire?: FireInput;
}

/**
 * A confirmation rescan of a report's changes (trigger `verify`, docs/delta.md "Verified changes"): a run of the
 * scan over `targets` (the changed addresses) with `nmapFlags` (@nso/delta verificationFlags: the run's scan types
 * and timing, the changed ports), cut and delegated like the run it confirms (its runner, chunk size and
 * concurrency), within the scan scope.
 */
export interface StartVerificationCommand {
  scanId: number;
  /** The run whose changes are confirmed. */
  resultId: number;
  targets: string[];
  nmapFlags: string[];
}

/**
 * An nmap XML file (`nmap -oX`, made elsewhere) as a completed run of a stored scan, trigger `import`
 * (`POST /api/scans/{id}/results/import`). The caller checks the file: its hosts are in the scan scope and hold
 * values the tables can store. It may still be checking it while the first pieces are stored: a refusal then
 * comes as an error of `hosts`, and nothing of the run stays.
 */
export interface ImportRunCommand {
  scanId: number;
  /**
   * The file's hosts, one per address of the targets, in address order, stored as its one batch: in pieces
   * encoded as their rows (HostRows.of; an array of one piece will do), read once while they are stored, so a
   * large file is never one array of hosts in memory. An async iterable may hand them over as the file is read;
   * it may throw PiecesStartOver (@nso/persistence: the pieces so far are dropped, its own stored instead), and
   * any other error refuses the import.
   */
  hosts: Iterable<HostRows> | AsyncIterable<HostRows>;
  /** The file's facts, asked for once `hosts` ended (they are known when the file was read whole). */
  facts: () => ImportedRunFacts | Promise<ImportedRunFacts>;
  /**
   * The time the hosts are dated with while the facts are not known (the file's finish time when the caller
   * could tell it early); they are dated again with the facts' finish when it differs. Default: now.
   */
  datedAt?: Date;
}

/** What an imported file says of its run (ImportRunCommand.facts). */
export interface ImportedRunFacts {
  /** The file's nmap options (importedFlags, from its `args`); undefined: the options a run of the scan stores. */
  nmapFlags?: string[];
  /** The file's addresses, each once, in address order (IPv4 before IPv6, numerically): the run's targets. */
  targets: string[];
  /** When the file's scan started and finished (the run's and its batch's times). */
  startedAt: Date;
  finishedAt: Date;
}

/** An imported run as stored (RunService.importRun): its id and what its one batch found. */
export interface ImportedRun {
  resultId: number;
  hostsUp: number;
  openPorts: number;
}

/** An agent's results for one task, as the gateway read them from seed 003's body. */
export interface AgentResultsCommand {
  clientId: string;
  resultId: number;
  taskId: string;
  status: 'completed' | 'failed';
  /** The error an agent gave with a failed status. */
  error?: string;
  hosts: HostResultInput[];
  /** SHA-256 of what the results mean (agentResultsDigest): a retry of the same results is recognised. */
  digest: string;
}

/** What RunService.agentResults did with an agent's results. */
export interface AgentResultsOutcome {
  /** An identical retry of results taken before: nothing was stored again. */
  duplicate: boolean;
  resultId: number;
  /** Addresses given to the task. */
  taskTargets: number;
}

/** Which run a batch command is about. */
export interface RunRef {
  scanId: number;
  resultId: number;
}

/** An attempt of a batch failed (nmap exited non-zero, its XML was unreadable, the batch was refused...). */
export interface BatchFailedCommand {
  batchId: number;
  /** The batch's number within its run (`batch_id` of the events). */
  seq: number;
  /** 1-based attempt number. */
  attempt: number;
  /** The last attempt: the batch counts as failed and is not retried. */
  final: boolean;
  message: string;
  exitCode: number | null;
  /** nmap's stderr ('' when there was none). */
  stderr: string;
}

/** A run that was stored and whose first window of batches is enqueued (RunService.start, startOneOff). */
export interface StartedRun {
  scanId: number;
  resultId: number;
  /** Addresses delegated to clients (the ones this run scans). */
  targetsTotal: number;
  batchesTotal: number;
  /** How many clients got at least one batch. */
  clientsTriggered: number;
  /** Addresses no client covers, as CIDRs (a single address bare): not scanned by this run. */
  unassignedTargets: string[];
}

/** One batch of a run as delegation cut it (RunService.plannedBatches). */
export interface PlannedBatch {
  /** 1-based number of the batch within its run (`batch_id` of the events). */
  seq: number;
  /** The scanner client it was delegated to. */
  clientId: string;
  /** Whether that client is an HTTP agent (the batch is pushed as a task). */
  agent: boolean;
  /** Its addresses, in scan order. */
  targets: string[];
}

/**
 * A start tried without storing or enqueueing anything (RunService.preview): what the run would scan, how it
 * would be cut and delegated, and what would keep it from starting.
 */
export interface RunPreview {
  /** The options as the policy normalised them (what nmap would get). */
  nmapFlags: string[];
  /** Each host name among the targets with the addresses it resolved to now. */
  resolvedNames: ResolvedNames;
  /** Distinct addresses of the in-scope targets. */
  addresses: number;
  /** Addresses delegated to clients (scanned). */
  targetsTotal: number;
  batchesTotal: number;
  /** The parts by client group, in batch order: their addresses (as CIDRs and counted), batches and batch size. */
  delegation: PartSize[];
  /** Clients that would get at least one batch. */
  clientsTriggered: string[];
  /** In-scope addresses no approved, online client covers (CIDRs; a single address bare). */
  unassignedTargets: string[];
  /** Target texts outside the scan scope (a start refuses them all with a 400). */
  outOfScope: string[];
  /** Why a start with these settings would be refused now (ScopeError, NoCoveringClientError), if it would. */
  refusal?: ScopeError | NoCoveringClientError;
}
