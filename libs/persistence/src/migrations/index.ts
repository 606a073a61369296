import type { MigrationObject } from '@mikro-orm/core';
import { Migration20250601000000Initial } from './Migration20250601000000_initial';
import { Migration20261122000000ApiTokens } from './Migration20261122000000_api_tokens';
import { Migration20261130000000ResolvedNames } from './Migration20261130000000_resolved_names';
import { Migration20261130000000ScanEventSeq } from './Migration20261130000000_scan_event_seq';
import { Migration20261130010000Schedules } from './Migration20261130010000_schedules';
import { Migration20261130030000Clients } from './Migration20261130030000_clients';
import { Migration20261130040000DeltaReports } from './Migration20261130040000_delta_reports';
import { Migration20261130050000Delegation } from './Migration20261130050000_delegation';
import { Migration20261130060000DeltaChanges } from './Migration20261130060000_delta_changes';
import { Migration20261130070000Webhooks } from './Migration20261130070000_webhooks';
import { Migration20261201000000DeltaAnnounced } from './Migration20261201000000_delta_announced';
import { Migration20261206000000UnlistedStates } from './Migration20261206000000_unlisted_states';
import { Migration20261207000000TrustedDeltas } from './Migration20261207000000_trusted_deltas';

/**
 * Every migration, oldest first. Names are written out (not `Class.name`) because they are what the
 * migrations table records, and must survive any renaming or minifying of the classes.
 */
export const MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20250601000000_initial', class: Migration20250601000000Initial },
  { name: 'Migration20261122000000_api_tokens', class: Migration20261122000000ApiTokens },
  { name: 'Migration20261130000000_resolved_names', class: Migration20261130000000ResolvedNames },
  { name: 'Migration20261130000000_scan_event_seq', class: Migration20261130000000ScanEventSeq },
  { name: 'Migration20261130010000_schedules', class: Migration20261130010000Schedules },
  { name: 'Migration20261130030000_clients', class: Migration20261130030000Clients },
  { name: 'Migration20261130040000_delta_reports', class: Migration20261130040000DeltaReports },
  { name: 'Migration20261130050000_delegation', class: Migration20261130050000Delegation },
  { name: 'Migration20261130060000_delta_changes', class: Migration20261130060000DeltaChanges },
  { name: 'Migration20261130070000_webhooks', class: Migration20261130070000Webhooks },
  { name: 'Migration20261201000000_delta_announced', class: Migration20261201000000DeltaAnnounced },
  { name: 'Migration20261206000000_unlisted_states', class: Migration20261206000000UnlistedStates },
  { name: 'Migration20261207000000_trusted_deltas', class: Migration20261207000000TrustedDeltas },
];
