// Queue names and job payloads: the wire between gateway, worker and delta.
// FROZEN: queue names, job names and payload fields are stored in Redis by running deployments; rename none of
// them, and add payload fields only as optional ones.

/**
 * The shared batch queue of releases before delegation. No run puts batches on it any more (each worker pool has
 * its own, clientBatchQueueName); kept registered so that its name stays taken and its depth can be read.
 */
export const BATCH_QUEUE = 'scan-batches';

/**
 * The batch queue of one worker pool (scanner client `clientId`): `scan-batches.<clientId>`. Only the pool's
 * workers (WORKER_CLIENT_ID) consume it; runs delegated to the pool put their batches there. A client id may hold
 * characters BullMQ keys must not (`:`), so the id is URI-encoded (`scan-batches.aa%3Abb`).
 */
export const clientBatchQueueName = (clientId: string): string =>
  `${BATCH_QUEUE}.${encodeURIComponent(clientId)}`;
/** The job name of a batch on a pool's batch queue. */
export const BATCH_JOB = 'run-batch';
/** Runs whose results are complete and ready to diff. */
export const DELTA_QUEUE = 'delta-reports';
/** The job name of a run's diff on DELTA_QUEUE. */
export const DIFF_RESULT_JOB = 'diff-result';
/** The job name of a report's confirmation rescan on DELTA_QUEUE, delayed by the scan's verify_delay_seconds. */
export const VERIFY_CHANGES_JOB = 'verify-changes';
/** Housekeeping the workers share: one job scheduler reconciles queued and running runs with Redis. */
export const MAINTENANCE_QUEUE = 'run-maintenance';
/** The job scheduler (and job name) of the periodic reconciliation on MAINTENANCE_QUEUE. */
export const RECONCILE_RUNS_JOB = 'reconcile-runs';

/**
 * Deadlines of HTTP agents' tasks: one delayed job per task, due AGENT_TASK_TIMEOUT after the push; when it runs
 * and the task still has no results, the task fails (nothing waits on an agent forever).
 */
export const AGENT_TASK_QUEUE = 'agent-tasks';
/** The job name of a task's deadline on AGENT_TASK_QUEUE. */
export const AGENT_TASK_TIMEOUT_JOB = 'agent-task-timeout';
/**
 * The job name of a task's push (`POST http://agent/scan`) on AGENT_TASK_QUEUE: made by a worker, so that starting
 * a run (or counting a batch) never waits on an agent.
 */
export const AGENT_TASK_PUSH_JOB = 'agent-task-push';

/** Fires of scan schedules: one BullMQ job scheduler per scheduled scan (`scan-<id>`). */
export const SCHEDULE_QUEUE = 'scan-schedules';
/** The job name of a schedule's fire on SCHEDULE_QUEUE. */
export const FIRE_SCHEDULE_JOB = 'fire-schedule';

/** Deliveries of webhooks (docs/notifications.md "Webhooks"): one job per (rule, delta report). */
export const WEBHOOK_QUEUE = 'webhook-deliveries';
/** The job name of one delivery on WEBHOOK_QUEUE. */
export const WEBHOOK_DELIVERY_JOB = 'deliver-webhook';

export type Runner = 'asyncio' | 'multiprocessing';
export const RUNNERS: readonly Runner[] = ['asyncio', 'multiprocessing'];

/** One batch: one chunk of a run's targets, one nmap process. It carries what nmap needs, so a worker can
 * start nmap without reading the database first. */
export interface BatchJobData {
  scanId: number;
  resultId: number;
  /** 1-based batch number within the run; the WebSocket's `batch_id`. */
  batchSeq: number;
  /**
   * This batch's addresses, at most chunk_size of them, ascending; no address is in two batches of a run.
   * Host names were resolved once at submission: nmap is handed these addresses, never a name.
   */
  targets: string[];
  /**
   * The host names the user gave for addresses of this batch (address → names), reported as the host's
   * names of type "user". Absent in jobs queued before host names were resolved at submission.
   */
  hostnames?: Record<string, string[]>;
  /** The run's nmap options, as the gateway's policy normalised them. */
  nmapFlags: string[];
}

/** One fire of a scan's schedule; the job's id and timestamp say which fire it is. */
export interface ScheduleFireJobData {
  scanId: number;
}

/** A task's deadline: the agent_tasks row it is about. */
export interface AgentTaskTimeoutJobData {
  taskRowId: number;
  scanId: number;
  resultId: number;
}

/** A task to push to its agent: the agent_tasks row, and the run's nmap options (its `ports`, `scan_arguments`). */
export interface AgentTaskPushJobData {
  taskRowId: number;
  scanId: number;
  resultId: number;
  nmapFlags: string[];
}

/** One delivery: the delta report `reportId` POSTed to webhook rule `ruleId`'s URL. */
export interface WebhookDeliveryJobData {
  ruleId: number;
  reportId: number;
}

export interface DeltaJobData {
  scanId: number;
  resultId: number;
}

/** Start the confirmation rescan of report `reportId`'s changes (docs/delta.md "Verified changes"). */
export interface VerifyChangesJobData {
  scanId: number;
  reportId: number;
}

/**
 * A job name maps to its payload type, so a producer cannot send the wrong shape: producers and consumers type
 * their queues with JobOf (as Immich's JobOf): `Queue<JobOf<N>, R, N>`, `Worker<JobOf<N>, R, N>`.
 */
export interface JobPayloads {
  [BATCH_JOB]: BatchJobData;
  [DIFF_RESULT_JOB]: DeltaJobData;
  [VERIFY_CHANGES_JOB]: VerifyChangesJobData;
  [FIRE_SCHEDULE_JOB]: ScheduleFireJobData;
  [RECONCILE_RUNS_JOB]: Record<string, never>;
  [AGENT_TASK_TIMEOUT_JOB]: AgentTaskTimeoutJobData;
  [AGENT_TASK_PUSH_JOB]: AgentTaskPushJobData;
  [WEBHOOK_DELIVERY_JOB]: WebhookDeliveryJobData;
}
export type JobName = keyof JobPayloads;
/** The payload of job `N`. */
export type JobOf<N extends JobName> = JobPayloads[N];

/**
 * Which jobs each queue carries: the one registry that producers, consumers (JobWorkers.work in @nso/events) and
 * the queue module read. BATCH_QUEUE stands for its family: every pool's `clientBatchQueueName(clientId)`.
 */
export const QUEUE_JOBS = {
  [BATCH_QUEUE]: [BATCH_JOB],
  [DELTA_QUEUE]: [DIFF_RESULT_JOB, VERIFY_CHANGES_JOB],
  [MAINTENANCE_QUEUE]: [RECONCILE_RUNS_JOB],
  [SCHEDULE_QUEUE]: [FIRE_SCHEDULE_JOB],
  [AGENT_TASK_QUEUE]: [AGENT_TASK_TIMEOUT_JOB, AGENT_TASK_PUSH_JOB],
  [WEBHOOK_QUEUE]: [WEBHOOK_DELIVERY_JOB],
} as const satisfies Record<string, readonly JobName[]>;
export type QueueName = keyof typeof QUEUE_JOBS;
/** The names of the jobs queue `Q` carries. */
export type JobNameOf<Q extends QueueName> = (typeof QUEUE_JOBS)[Q][number];
/** Every queue of the registry, in a fixed order. */
export const QUEUE_NAMES = Object.keys(QUEUE_JOBS) as QueueName[];

/** A delivery's job id (and X-NetScan-Delivery): one per (rule, report), however often it is added. */
export const webhookDeliveryJobId = (ruleId: number, reportId: number): string => `wh${ruleId}-d${reportId}`;

export const batchJobId = (resultId: number, batchSeq: number): string => `r${resultId}-b${batchSeq}`;
