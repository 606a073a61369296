// Prometheus metrics of one process (prom-client), on its own registry: counters and histograms the code observes
// as things happen, and gauges filled at scrape time by collectors a process registers (queue depth, rows by
// status). Served by MetricsServer on METRICS_PORT (docs/monitoring.md).
import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { settledWithin } from './settled-within';

/**
 * Fills gauges right before a scrape; a collector that throws, or does not answer within COLLECT_TIMEOUT_MS, is
 * left out and its gauges keep their last values.
 */
export type MetricsCollector = () => Promise<void>;

/**
 * How long a scrape waits for each collector, in milliseconds (the health checks' bound). BullMQ's commands wait
 * for Redis to come back rather than fail, so without it a Redis outage hung every scrape past Prometheus's
 * timeout, and the rows by status and the counters were lost with the queue depth.
 */
export const COLLECT_TIMEOUT_MS = 2_000;

/**
 * What became of one webhook delivery try: `delivered` (a 2xx), `failed` (any other answer or none; retried while
 * tries remain), `refused` (the destination is outside WEBHOOK_ALLOW or not a valid URL any more: nothing was
 * sent, not retried), `disabled` (a failed or refused try that reached WEBHOOK_DISABLE_AFTER and switched its rule
 * off), `skipped` (the rule was inactive or deleted, or the report gone: nothing was sent).
 */
export const WEBHOOK_DELIVERY_OUTCOMES = ['delivered', 'failed', 'refused', 'disabled', 'skipped'] as const;
export type WebhookDeliveryOutcome = (typeof WEBHOOK_DELIVERY_OUTCOMES)[number];

@Injectable()
export class Metrics {
  readonly registry = new Registry();
  private readonly collectors: MetricsCollector[] = [];

  /** One nmap process of a batch, from spawn to exit, in seconds, by outcome (completed, failed, stopped). */
  readonly nmapDuration = new Histogram({
    name: 'nso_nmap_process_duration_seconds',
    help: 'Duration of one nmap process running a batch, in seconds',
    labelNames: ['outcome'] as const,
    buckets: [0.5, 1, 5, 15, 60, 300, 900, 3600],
    registers: [this.registry],
  });

  /** Batch attempts stopped because their nmap reported no progress for BATCH_STALL_SECONDS (batch_stalled). */
  readonly batchesStalled = new Counter({
    name: 'nso_batches_stalled_total',
    help: 'Batch attempts stopped because nmap reported no progress for BATCH_STALL_SECONDS',
    registers: [this.registry],
  });

  /** Straggler batches split: their unreported addresses went back on the queue as two batches (batch_split). */
  readonly batchesSplit = new Counter({
    name: 'nso_batches_split_total',
    help: 'Straggler batches split into two new batches of their unreported addresses',
    registers: [this.registry],
  });

  readonly scanEventsPublished = new Counter({
    name: 'nso_scan_events_published_total',
    help: 'Scan events published to Redis by this process',
    registers: [this.registry],
  });

  /** Scan events handed to one subscriber (transport: websocket, sse). */
  readonly scanEventsDelivered = new Counter({
    name: 'nso_scan_events_delivered_total',
    help: 'Scan events handed to subscribers of this process, by transport',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });

  readonly notificationsPublished = new Counter({
    name: 'nso_notifications_published_total',
    help: 'Notifications (/api/stream) published by this process, by topic (broadcast, admins, user)',
    labelNames: ['topic'] as const,
    registers: [this.registry],
  });

  readonly notificationsDelivered = new Counter({
    name: 'nso_notifications_delivered_total',
    help: 'Notifications written to /api/stream subscribers of this process',
    registers: [this.registry],
  });

  /**
   * Webhook delivery tries of this process (the worker), by outcome (WEBHOOK_DELIVERY_OUTCOMES): each try counts
   * once.
   */
  readonly webhookDeliveries = new Counter({
    name: 'nso_webhook_deliveries_total',
    help: 'Webhook delivery tries by outcome: delivered, failed, refused (outside WEBHOOK_ALLOW), disabled (the try that switched its rule off), skipped (rule inactive or gone)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  /** Open subscribers of this process: websocket and sse (scan events), stream (/api/stream). */
  readonly subscribers = new Gauge({
    name: 'nso_subscribers',
    help: 'Open subscribers of this process, by transport (websocket, sse, stream)',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });

  /** Scan event subscribers dropped because they did not read what was written to them (websocket, sse). */
  readonly subscribersDropped = new Counter({
    name: 'nso_subscribers_dropped_total',
    help: 'Subscribers this process dropped for not keeping up with their stream, by transport',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });

  constructor() {
    for (const transport of ['websocket', 'sse', 'stream']) this.subscribers.set({ transport }, 0);
  }

  /** One nmap process ended: its duration, by outcome (stopped, completed: exit 0, failed: anything else). */
  observeNmapRun(run: { cancelled: boolean; exitCode: number | null; durationMs: number }): void {
    const outcome = run.cancelled ? 'stopped' : run.exitCode === 0 ? 'completed' : 'failed';
    this.nmapDuration.observe({ outcome }, run.durationMs / 1000);
  }

  /** Runs `collect` before every scrape (gauges that are read, not counted: queue depth, rows by status). */
  addCollector(collect: MetricsCollector): void {
    this.collectors.push(collect);
  }

  /** The exposition text (Prometheus text format 0.0.4) after running every collector. */
  async scrape(): Promise<string> {
    await Promise.all(
      this.collectors.map((collect) => settledWithin(collect(), COLLECT_TIMEOUT_MS, undefined)),
    );
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
