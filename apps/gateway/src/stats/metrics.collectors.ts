// Gauges the gateway fills when Prometheus scrapes it: what is read rather than counted — queue depth, batches
// and runs by status, each approved client's last heartbeat, each running run's last progress. The alert rules of
// docs/monitoring.md are written against these names.
import { EntityManager } from '@mikro-orm/core';
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { BATCH_QUEUE } from '@nso/contracts';
import { Metrics } from '@nso/events';
import {
  Batch,
  BATCH_STATUSES,
  Client,
  clientStatus,
  SCAN_RESULT_STATUSES,
  ScanResult,
} from '@nso/persistence';
import { Queue } from 'bullmq';
import { Gauge } from 'prom-client';

/** BullMQ job states reported per queue. */
export const QUEUE_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'failed', 'completed'] as const;
/** Running runs reported one by one at most (a label per run). */
const RUNS_REPORTED_MAX = 1000;

const seconds = (date: Date | null | undefined) => (date ? date.getTime() / 1000 : 0);

@Injectable()
export class MetricsCollectors implements OnModuleInit {
  constructor(
    private readonly metrics: Metrics,
    private readonly em: EntityManager,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectQueue(BATCH_QUEUE) private readonly batchQueue: Queue,
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
      const counts = await this.batchQueue.getJobCounts(...QUEUE_STATES);
      for (const state of QUEUE_STATES) queueJobs.set({ queue: BATCH_QUEUE, state }, counts[state] ?? 0);
    });
    this.metrics.addCollector(async () => {
      const em = this.em.fork();
      const [batchCounts, runCounts] = await Promise.all([
        Promise.all(BATCH_STATUSES.map((status) => em.count(Batch, { status }))),
        Promise.all(SCAN_RESULT_STATUSES.map((status) => em.count(ScanResult, { status }))),
      ]);
      BATCH_STATUSES.forEach((status, index) => batches.set({ status }, batchCounts[index]));
      SCAN_RESULT_STATUSES.forEach((status, index) => runs.set({ status }, runCounts[index]));
    });
    this.metrics.addCollector(async () => {
      const now = new Date();
      const clients = await this.em.fork().find(Client, { isApproved: true });
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
      const em = this.em.fork();
      const running = await em.find(
        ScanResult,
        { status: 'running' },
        { limit: RUNS_REPORTED_MAX, orderBy: { id: 'asc' } },
      );
      const progress = new Map(running.map((run) => [run.id, seconds(run.startedAt ?? run.createdAt)]));
      const rows =
        running.length === 0 ? [] : await em.find(Batch, { result: { $in: running.map((run) => run.id) } });
      for (const batch of rows) {
        const id = batch.result.id;
        const latest = Math.max(progress.get(id) ?? 0, seconds(batch.startedAt), seconds(batch.finishedAt));
        progress.set(id, latest);
      }
      runProgress.reset();
      for (const run of running) {
        runProgress.set(
          { scan_id: String(run.scan.id), result_id: String(run.id) },
          progress.get(run.id) ?? 0,
        );
      }
    });
  }
}
