// Admin notifications about scanner clients (docs/notifications.md): the gateway sends one when an HTTP agent
// enrols, a worker process when it registers a new worker pool; both wait for an admin's approval.
import { Logger } from '@nestjs/common';
import { safeErrorMessage } from '@nso/persistence';
import type { Notification } from '@nso/contracts';
import { Notifier } from './notifications';

const logger = new Logger('ClientNotices');

/** The fields of a client row the notice names. */
export interface ClientNoticeFields {
  clientId: string;
  /** `pool` (a worker pool) or `agent` (an HTTP agent). */
  kind: string;
  hostname: string | null;
  sourceIp: string | null;
  isApproved: boolean;
}

/**
 * What admins see when a client waits for their approval (`info`): `Client <id> (<hostname>) from <ip> is awaiting
 * approval` for an agent, `Worker pool <id> (<hostname>) is awaiting approval` for a pool (it has no source
 * address: its workers reach the database, not the API). Absent parts are left out.
 */
export function clientAwaitingApproval(client: Omit<ClientNoticeFields, 'isApproved'>): Notification {
  const from = client.sourceIp ? ` from ${client.sourceIp}` : '';
  const name = client.hostname ? ` (${client.hostname})` : '';
  const what = client.kind === 'pool' ? 'Worker pool' : 'Client';
  return { message: `${what} ${client.clientId}${name}${from} is awaiting approval`, type: 'info' };
}

/**
 * Tells every admin's `/api/stream` that a new client awaits approval (nothing for an approved one). Never
 * rejects: a failed notification is logged, and enrolment or registration goes on.
 */
export async function noticeClientAwaitingApproval(
  notifier: Notifier,
  client: ClientNoticeFields,
): Promise<void> {
  if (client.isApproved) return;
  try {
    await notifier.notifyAdmins(clientAwaitingApproval(client));
  } catch (error) {
    logger.warn(`notifying admins of client ${client.clientId} failed: ${safeErrorMessage(error)}`);
  }
}
