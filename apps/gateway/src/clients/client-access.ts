// Who may act for a scanner client over HTTP: the client must exist, an agent's requests are bound to the address
// its approval saw, and a worker pool never talks HTTP. Shared by the client API and the results intake.
import { ForbiddenException, Injectable, NotFoundException } from '@nestjs/common';
import { ClientRepository, type Client } from '@nso/persistence';

export const POOL_REFUSAL =
  'this client_id is a worker pool, which reports through the database, not over HTTP';
export const ADDRESS_REFUSAL = 'request from an address other than the one this client is bound to';

/** 404 `{"error": "Client not found"}`. */
export const clientNotFound = () => new NotFoundException({ error: 'Client not found' });

/** 403 `{"error": "Unauthorized"}`, with `reason` when given. */
export const unauthorized = (reason?: string) =>
  new ForbiddenException(reason ? { error: 'Unauthorized', reason } : { error: 'Unauthorized' });

/** The client lookups and the address check of every client route. */
@Injectable()
export class ClientAccess {
  constructor(private readonly clients: ClientRepository) {}

  /** The client of `clientId`. Errors: 404 when unknown. */
  async findOrFail(clientId: string): Promise<Client> {
    const client = await this.clients.findByClientId(clientId);
    if (!client) throw clientNotFound();
    return client;
  }

  /**
   * Refuses (403) a request over HTTP for a worker pool, or for an approved agent from an address other than
   * its approval's; the latter is recorded (refused_ip, refused_at, refused_count) for admins to see.
   */
  async checkAgentAddress(client: Client, source: string, now: Date): Promise<void> {
    if (client.kind === 'pool') throw unauthorized(POOL_REFUSAL);
    if (!client.isApproved || client.approvedIp === null || client.approvedIp === source) return;
    await this.clients.recordRefusal(client, source, now);
    throw unauthorized(ADDRESS_REFUSAL);
  }
}
