// The scan form's model: its values as text fields, the API's field names mapped onto them, and the scan they
// are read from when editing.
import { Scan } from './types';

export type Mode = 'once' | 'definition';
export type ScheduleKind = 'none' | 'interval' | 'cron';

export interface Values {
  name: string;
  description: string;
  targets: string;
  ports: string;
  nmap_flags: string;
  project_id: string;
  chunk_size: string;
  concurrency: string;
  runner: string;
  interval_minutes: string;
  cron: string;
  timezone: string;
  is_active: boolean;
}

export const EMPTY: Values = {
  name: '',
  description: '',
  targets: '',
  ports: '',
  nmap_flags: '-sT -Pn -n',
  project_id: '',
  chunk_size: '256',
  concurrency: '6',
  runner: 'asyncio',
  interval_minutes: '60',
  cron: '0 2 * * *',
  timezone: 'UTC',
  is_active: true,
};

/** API field names → the form's. */
export const ALIASES: Record<string, string> = {
  target: 'targets',
  targets: 'targets',
  scan_arguments: 'nmap_flags',
  nmap_flags: 'nmap_flags',
  name: 'name',
  description: 'description',
  ports: 'ports',
  project_id: 'project_id',
  chunk_size: 'chunk_size',
  concurrency: 'concurrency',
  runner: 'runner',
  interval_minutes: 'interval_minutes',
  cron: 'cron',
  timezone: 'timezone',
  is_active: 'is_active',
  is_scheduled: 'interval_minutes',
};

export function valuesOf(scan: Scan): Values {
  return {
    name: scan.name,
    description: scan.description ?? '',
    targets: scan.target,
    ports: scan.ports ?? '',
    nmap_flags: scan.scan_arguments,
    project_id: String(scan.project_id ?? ''),
    chunk_size: String(scan.chunk_size),
    concurrency: String(scan.concurrency),
    runner: scan.runner,
    interval_minutes: String(scan.interval_minutes ?? 60),
    cron: scan.cron ?? '0 2 * * *',
    timezone: scan.timezone ?? 'UTC',
    is_active: scan.is_active,
  };
}

export const splitWords = (text: string) => text.split(/[\s,]+/).filter(Boolean);

export function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
  const zones = intl.supportedValuesOf?.('timeZone') ?? [];
  return ['UTC', ...zones.filter((z) => z !== 'UTC')];
}
