import { joinScanArguments } from '@nso/nmap';
import type { Scan } from '@nso/persistence';

/** A scan as seed 003 shows it, with seed 000's run settings beside. */
export function scanView(scan: Scan) {
  return {
    id: scan.id,
    project_id: scan.project.id,
    name: scan.name,
    description: scan.description ?? null,
    target: scan.targets.join(', '),
    targets: scan.targets,
    ports: scan.ports ?? null,
    scan_arguments: joinScanArguments(scan.nmapFlags),
    nmap_flags: scan.nmapFlags,
    runner: scan.runner,
    chunk_size: scan.chunkSize,
    concurrency: scan.concurrency,
    interval_minutes: scan.intervalMinutes ?? null,
    cron: scan.cron ?? null,
    timezone: scan.cron ? (scan.timezone ?? 'UTC') : null,
    is_active: scan.isActive,
    is_scheduled: scan.isScheduled,
    is_one_off: scan.isOneOff,
    verify_changes: scan.verifyChanges,
    verify_delay_seconds: scan.verifyDelaySeconds,
    announce_unconfirmed: scan.announceUnconfirmed,
    flap_window: scan.flapWindow,
    flap_threshold: scan.flapThreshold,
    expected_ports: scan.expectedPorts ?? null,
    last_run: scan.lastRun ?? null,
    next_run: scan.nextRun ?? null,
    created_at: scan.createdAt,
    updated_at: scan.updatedAt,
  };
}
