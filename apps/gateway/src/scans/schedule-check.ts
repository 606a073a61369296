// The checks a scan's schedule settings pass wherever they are given: saving a definition (POST/PUT /api/scans)
// and previewing its fires (GET /api/schedule/preview), so a preview refuses exactly what a save would.
import { BadRequestException } from '@nestjs/common';
import { CronExpressionParser } from 'cron-parser';

export interface ScheduleSettings {
  intervalMinutes: number | null;
  cron: string | null;
  timezone: string | null;
}

/**
 * Throws the 400 that names the problem: both interval_minutes and cron, a time zone that is not an IANA zone,
 * a cron expression that is not 5 fields or that cron-parser (the library BullMQ's schedulers use) refuses or
 * finds no next time for.
 */
export function checkScheduleSettings(schedule: ScheduleSettings): void {
  if (schedule.intervalMinutes !== null && schedule.cron !== null) {
    throw new BadRequestException({ error: 'Give interval_minutes or cron, not both' });
  }
  if (schedule.timezone !== null && !isTimeZone(schedule.timezone)) {
    throw new BadRequestException({
      error: `timezone ${JSON.stringify(schedule.timezone)} is not an IANA time zone`,
    });
  }
  if (schedule.cron !== null) checkCron(schedule.cron, schedule.timezone ?? 'UTC');
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** A standard 5-field cron expression (minute hour day-of-month month day-of-week) that has a next time. */
function checkCron(cron: string, timezone: string): void {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5) {
    throw new BadRequestException({
      error: `cron must have 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}`,
    });
  }
  try {
    CronExpressionParser.parse(cron, { tz: timezone }).next();
  } catch (error) {
    throw new BadRequestException({
      error: `cron ${JSON.stringify(cron)} is not valid: ${(error as Error).message}`,
    });
  }
}
