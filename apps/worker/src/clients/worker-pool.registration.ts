// A worker pool is one scanner client: every worker process started with the same WORKER_CLIENT_ID keeps that
// one client row alive (last_seen) straight through the database, so the replicas of a Deployment share one
// identity and one approval, and the pool shows offline CLIENT_OFFLINE_AFTER after its last replica stopped. A
// pool registered unapproved is announced to the admins' /api/stream, once, by the replica that created its row.
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { noticeClientAwaitingApproval, Notifier } from '@nso/events';
import { ClientRepository } from '@nso/persistence';
import { ClientBatchQueues } from '@nso/runs';
import { hostname } from 'node:os';

/** Often enough that a live pool never looks offline: three beats per CLIENT_OFFLINE_AFTER, at most one a minute. */
export function poolHeartbeatIntervalMs(offlineAfterMs: number): number {
  return Math.min(60_000, Math.max(250, Math.floor(offlineAfterMs / 3)));
}

/** Keeps this worker's pool row alive (ClientRepository.registerPool) from start-up to shutdown. */
@Injectable()
export class WorkerPoolRegistration implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('WorkerPool');
  private timer?: NodeJS.Timeout;
  private lastProblem?: string;

  constructor(
    private readonly clients: ClientRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly queues: ClientBatchQueues,
    private readonly notifier: Notifier,
  ) {}

  /** Registers (or refreshes) the pool before the worker reports ready, then beats in the background. */
  async onApplicationBootstrap(): Promise<void> {
    await this.beat().catch((error: Error) => this.problem(`pool heartbeat failed: ${error.message}`));
    this.timer = setInterval(() => {
      this.beat().catch((error: Error) => this.problem(`pool heartbeat failed: ${error.message}`));
    }, poolHeartbeatIntervalMs(this.config.clients.offlineAfterMs));
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    // The pool is not marked offline: other replicas may still run. Silence makes it offline in time.
    clearInterval(this.timer);
  }

  /**
   * One heartbeat: refreshes the pool row (last_seen, and `scanning` with active_scans while the pool's queue
   * has batches in progress), or creates it — approved when WORKER_AUTO_APPROVE holds (only at
   * creation: a pool an admin revoked stays revoked across restarts); a pool created unapproved is announced to
   * the admins (`Worker pool <id> (<hostname>) is awaiting approval`, once: only the replica whose insert won
   * tells). A client_id an unapproved HTTP agent holds is taken over (logged); an approved agent's is left alone
   * and logged. Errors: database and Redis errors reject (the caller logs them); a failed notice is only logged.
   */
  async beat(): Promise<void> {
    const { workerClientId: clientId, workerScanRange: scanRange } = this.config;
    // The pool is `scanning` while its queue has batches in progress: a figure of the whole pool, the same
    // whichever replica beats, unlike this process's own work.
    const { active = 0 } = await this.queues.queue(clientId).getJobCounts('active');
    const approve = this.config.workerAutoApprove;
    const registration = await this.clients.registerPool({
      clientId,
      now: new Date(),
      scanRange,
      hostname: hostname(),
      activeScans: active,
      autoApprove: approve,
    });
    switch (registration.kind) {
      case 'held-by-agent':
        return this.problem(
          `WORKER_CLIENT_ID ${clientId} is already an approved HTTP agent's id; this pool is not registered`,
        );
      case 'taken-over': {
        // An unapproved agent of this id (anyone can heartbeat any id) does not keep a pool out: a pool has a
        // credential (it reaches Redis and the database), an agent has none until an admin approves it.
        const { holder } = registration;
        this.logger.warn(
          `WORKER_CLIENT_ID ${clientId} was held by an unapproved HTTP agent (last from ${holder.sourceIp ?? 'unknown'}); ` +
            `this pool took it over, ${approve ? 'approved' : 'awaiting approval'}`,
        );
        if (!approve)
          await noticeClientAwaitingApproval(this.notifier, { ...holder, kind: 'pool', isApproved: false });
        return this.ok();
      }
      case 'created':
        this.logger.log(
          `registered worker pool ${clientId} (${scanRange.join(',')}), ${approve ? 'approved' : 'awaiting approval'}`,
        );
        await noticeClientAwaitingApproval(this.notifier, registration.client);
        return this.ok();
      default:
        // Refreshed (or raced with another writer: the next beat refreshes it).
        return this.ok();
    }
  }

  /** Logs a problem once until it changes or goes away, not on every beat. */
  private problem(message: string): void {
    if (this.lastProblem === message) return;
    this.lastProblem = message;
    this.logger.warn(message);
  }

  private ok(): void {
    if (this.lastProblem !== undefined) this.logger.log('pool heartbeat works again');
    this.lastProblem = undefined;
  }
}
