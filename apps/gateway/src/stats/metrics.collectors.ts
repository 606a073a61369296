// Gauges the gateway fills when Prometheus scrapes it: what is read rather than counted — queue depth (the shared
// batch queue and each worker pool's own), batches, agent tasks and runs by status, each approved client's last
// heartbeat, each running run's last progress. The alert rules of docs/monitoring.md are written against these
// names.
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { BATCH_QUEUE } from '@nso/contracts';
import { Metrics } from '@nso/monitoring';
import {
  AGENT_TASK_STATUSES,
  BATCH_STATUSES,
  clientStatus,
  MetricsQueries,
  SCAN_RESULT_STATUSES,
} from '@nso/persistence';
import { ClientBatchQueues } from '@nso/runs';
import { Queue } from 'bullmq';
import { Gauge } from 'prom-client';

/** BullMQ job states reported per queue. */
export const QUEUE_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'failed', 'completed'] as const;
/** Running runs reported one by one at most (a label per run). */
const RUNS_REPORTED_MAX = 1000;
/**
 * Worker pools whose batch queue is reported, at most (the first by client id): a `queue` label per pool keeps
 * the series bounded (6 states each) however many pools register, and each reported queue costs a Redis call
 * per scrape.
 */
export const POOL_QUEUES_REPORTED_MAX = 100;

const seconds = (date: Date | null | undefined) => (date ? date.getTime() / 1000 : 0);

/** Registers the gauges above on the gateway's metrics registry, each filled by a collector at scrape time. */
@Injectable()
export class MetricsCollectors implements OnModuleInit {
  constructor(
    private readonly metrics: Metrics,
    private readonly queries: MetricsQueries,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectQueue(BATCH_QUEUE) private readonly batchQueue: Queue,
    private readonly poolQueues: ClientBatchQueues,
  ) {}

  onModuleInit(): void {
    const registers = [this.metrics.registry];
    const queueJobs = new Gauge({
      name: 'nso_queue_jobs',
      help: 'Jobs in a BullMQ queue, by state',
      labelNames: ['queue', 'state'] as const,
      registers,
    });
    const batches = new Gauge({
      name: 'nso_batches',
      help: 'Batch rows by status',
      labelNames: ['status'] as const,
      registers,
    });
    const agentTasks = new Gauge({
      name: 'nso_agent_tasks',
      help: 'Agent task rows (batches pushed to HTTP agents) by status',
      labelNames: ['status'] as const,
      registers,
    });
    const runs = new Gauge({
      name: 'nso_runs',
      help: 'Runs by status',
      labelNames: ['status'] as const,
      registers,
    });
    const clientUp = new Gauge({
      name: 'nso_client_up',
      help: 'An approved scanner client: 1 online or scanning, 0 offline (CLIENT_OFFLINE_AFTER)',
      labelNames: ['client_id', 'kind'] as const,
      registers,
    });
    const clientSeen = new Gauge({
      name: 'nso_client_last_seen_timestamp_seconds',
      help: "An approved scanner client's last heartbeat, Unix time",
      labelNames: ['client_id', 'kind'] as const,
      registers,
    });
    const runProgress = new Gauge({
      name: 'nso_run_last_progress_timestamp_seconds',
      help: 'A running run: when it started or a batch of it last started or finished, Unix time',
      labelNames: ['scan_id', 'result_id'] as const,
      registers,
    });

    this.metrics.addCollector(async () => {
      // The shared queue of earlier releases, then every worker pool's own (clients table, kind `pool`): a pool
      // that is not approved (any more) still shows the batches left on its queue.
      const pools = await this.queries.poolIds(POOL_QUEUES_REPORTED_MAX);
      const queues: Array<[string, Pick<Queue, 'getJobCounts'>]> = [
        [BATCH_QUEUE, this.batchQueue],
        ...pools.map((clientId): [string, Queue] => {
          const queue = this.poolQueues.queue(clientId);
          return [queue.name, queue];
        }),
      ];
      const counts = await Promise.all(queues.map(([, queue]) => queue.getJobCounts(...QUEUE_STATES)));
      queueJobs.reset(); // a deleted pool's queue leaves the page
      queues.forEach(([name], index) => {
        for (const state of QUEUE_STATES) queueJobs.set({ queue: name, state }, counts[index][state] ?? 0);
      });
    });
    this.metrics.addCollector(async () => {
      const counts = await this.queries.statusCounts();
      for (const status of BATCH_STATUSES) batches.set({ status }, counts.batches[status]);
      for (const status of AGENT_TASK_STATUSES) agentTasks.set({ status }, counts.agentTasks[status]);
      for (const status of SCAN_RESULT_STATUSES) runs.set({ status }, counts.runs[status]);
    });
    this.metrics.addCollector(async () => {
      const now = new Date();
      const clients = await this.queries.approvedClients();
      clientUp.reset();
      clientSeen.reset();
      for (const client of clients) {
        const labels = { client_id: client.clientId, kind: client.kind };
        clientUp.set(
          labels,
          clientStatus(client, now, this.config.clients.offlineAfterMs) === 'offline' ? 0 : 1,
        );
        clientSeen.set(labels, seconds(client.lastSeen));
      }
    });
    this.metrics.addCollector(async () => {
      const running = await this.queries.runningRunProgress(RUNS_REPORTED_MAX);
      runProgress.reset();
      for (const run of running) {
        runProgress.set(
          { scan_id: String(run.scanId), result_id: String(run.resultId) },
          seconds(run.lastProgressAt),
        );
      }
    });
  }
}
