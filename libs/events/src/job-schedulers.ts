// BullMQ job schedulers behind one injectable (never a home-made timer): the periodic run reconciliation and
// every scan's schedule are job schedulers on their queues, kept in Redis, so each fire is one job that one
// worker takes, however many processes run.
import { ModuleRef } from '@nestjs/core';
import { getQueueToken } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import type { JobName, JobPayloads } from '@nso/contracts';
import { getNextMillis, type Queue } from 'bullmq';

/**
 * When a scheduler fires: every `every` ms (the first fire at `startDate`, ms since the epoch, or at once when it
 * is absent or past), or at the times of a cron `pattern`.
 */
export type ScheduleRepeat = { every: number; startDate?: number } | { pattern: string; tz: string };

/**
 * The first `count` fires of a scheduler put at `from` (ms since the epoch), as BullMQ makes them: an `every`
 * scheduler fires at once, then every `every` ms (addJobScheduler's getJobSchedulerEveryNextMillis: `now`,
 * then the previous fire + every); a `pattern` one at each next time of the cron expression in its time zone,
 * computed by BullMQ's own getNextMillis (cron-parser's CronExpressionParser, as its default repeat strategy), each
 * from the one before. Fewer when the pattern has no further time.
 */
export function upcomingFires(repeat: ScheduleRepeat, count: number, from: number): number[] {
  const fires: number[] = [];
  if ('every' in repeat) {
    for (let i = 0; i < count; i++) fires.push(from + i * repeat.every);
    return fires;
  }
  let after = from;
  while (fires.length < count) {
    const next = getNextMillis(after, { pattern: repeat.pattern, tz: repeat.tz });
    if (next === undefined || next <= after) break;
    fires.push(next);
    after = next;
  }
  return fires;
}

/** A job scheduler as BullMQ keeps it: its next fire (ms since the epoch) and its repeat settings. */
export interface SchedulerState {
  next: number | null;
  every: number | null;
  pattern: string | null;
  tz: string | null;
}

@Injectable()
export class JobSchedulers {
  constructor(private readonly modules: ModuleRef) {}

  /**
   * Creates or replaces the scheduler `id` on `queue`, whose fires are jobs `name` with `data`. Returns the
   * next fire (ms since the epoch), or null when BullMQ has none. An `every` scheduler fires at once, then every
   * `every` ms; a changed setting replaces the old one.
   */
  async put<N extends JobName>(
    queue: string,
    id: string,
    repeat: ScheduleRepeat,
    job: { name: N; data: JobPayloads[N]; keep?: number },
  ): Promise<number | null> {
    await this.queue(queue).upsertJobScheduler(id, repeat, {
      name: job.name,
      data: job.data,
      opts: { removeOnComplete: { count: job.keep ?? 100 }, removeOnFail: { count: job.keep ?? 100 } },
    });
    return (await this.get(queue, id))?.next ?? null;
  }

  /** Puts the scheduler only when it is missing or differs (a Redis that restarted empty lost it). */
  async ensure<N extends JobName>(
    queue: string,
    id: string,
    repeat: ScheduleRepeat,
    job: { name: N; data: JobPayloads[N]; keep?: number },
  ): Promise<boolean> {
    const current = await this.get(queue, id);
    const same =
      current &&
      ('every' in repeat
        ? current.every === repeat.every
        : current.pattern === repeat.pattern && (current.tz ?? 'UTC') === repeat.tz);
    if (same) return false;
    await this.put(queue, id, repeat, job);
    return true;
  }

  /** Removes the scheduler and its pending fire at once; true when there was one. */
  remove(queue: string, id: string): Promise<boolean> {
    return this.queue(queue).removeJobScheduler(id);
  }

  async get(queue: string, id: string): Promise<SchedulerState | undefined> {
    const scheduler = await this.queue(queue).getJobScheduler(id);
    if (!scheduler) return undefined;
    return {
      next: scheduler.next !== undefined && scheduler.next !== null ? Number(scheduler.next) : null,
      every: scheduler.every !== undefined && scheduler.every !== null ? Number(scheduler.every) : null,
      pattern: scheduler.pattern ?? null,
      tz: scheduler.tz ?? null,
    };
  }

  private queue(name: string): Queue {
    return this.modules.get<Queue>(getQueueToken(name), { strict: false });
  }
}
