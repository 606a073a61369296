// Admin notifications about scanner clients (docs/notifications.md).
import { Logger } from '@nestjs/common';
import { Notification, Notifier } from '@nso/events';
import type { Client } from '@nso/persistence';

const logger = new Logger('ClientNotices');

/** What admins see when an agent enrols and waits for their approval. */
export function clientAwaitingApproval(
  client: Pick<Client, 'clientId' | 'hostname' | 'sourceIp'>,
): Notification {
  const from = client.sourceIp ? ` from ${client.sourceIp}` : '';
  const name = client.hostname ? ` (${client.hostname})` : '';
  return { message: `Client ${client.clientId}${name}${from} is awaiting approval`, type: 'info' };
}

/** Tells every admin's `/api/stream` that a new client awaits approval. Never rejects: enrolment goes on. */
export async function noticeClientAwaitingApproval(notifier: Notifier, client: Client): Promise<void> {
  if (client.isApproved) return;
  try {
    await notifier.notifyAdmins(clientAwaitingApproval(client));
  } catch (error) {
    logger.warn(`notifying admins of client ${client.clientId} failed: ${(error as Error).message}`);
  }
}
