// The one rule for a scanner client's status, used wherever clients are shown or counted (the client API, the
// health endpoint, and later delegation), in two forms that must agree: a function of one row, and a filter.
import type { FilterQuery } from '@mikro-orm/core';
import type { Client, ClientStatus } from './entities';

/** The fields of a client row the status depends on. */
export type ClientStatusFields = Pick<Client, 'status' | 'lastSeen' | 'isEnabled'>;

/**
 * `offline` when the client is disabled (toggle), never seen, silent for `offlineAfterMs` or more (CLIENT_OFFLINE_AFTER),
 * or said so itself (an agent's PUT on shutdown); otherwise what it last reported: `online` or `scanning`.
 */
export function clientStatus(client: ClientStatusFields, now: Date, offlineAfterMs: number): ClientStatus {
  if (!client.isEnabled || client.lastSeen === null) return 'offline';
  if (now.getTime() - client.lastSeen.getTime() >= offlineAfterMs) return 'offline';
  return client.status;
}

/** The database filter that selects exactly the rows clientStatus gives `status` at `now`. */
export function clientStatusFilter(
  status: ClientStatus,
  now: Date,
  offlineAfterMs: number,
): FilterQuery<Client> {
  const cutoff = new Date(now.getTime() - offlineAfterMs);
  if (status === 'offline') {
    return {
      $or: [{ isEnabled: false }, { lastSeen: null }, { lastSeen: { $lte: cutoff } }, { status: 'offline' }],
    };
  }
  return { isEnabled: true, lastSeen: { $gt: cutoff }, status };
}
