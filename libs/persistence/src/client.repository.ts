// The clients table as the run's domain reads it: which scanner clients may get work now.
import type { EntityManager } from '@mikro-orm/core';
import { clientStatusFilter } from './client-status';
import { Client, type ClientKind } from './entities';

/** A client that may be given work: its id, kind and range (normalised CIDRs, possibly beyond the scope). */
export interface DelegableClientRow {
  clientId: string;
  kind: ClientKind;
  scanRange: string[];
}

/** Where the server pushes to an agent: its approved listening address, if it is approved and enabled. */
export interface AgentEndpoint {
  clientId: string;
  ipAddress: string;
  port: number;
}

/** Provided by PersistenceModule. */
export class ClientRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * Clients that may get work at `now`: approved, enabled, and online or scanning by the one status rule
   * (client-status.ts, CLIENT_OFFLINE_AFTER = `offlineAfterMs`). `kinds` limits them (pools only, until agents
   * take work).
   */
  async findDelegable(
    now: Date,
    offlineAfterMs: number,
    kinds: readonly ClientKind[],
  ): Promise<DelegableClientRow[]> {
    const rows = await this.em.fork().find(
      Client,
      {
        isApproved: true,
        kind: { $in: [...kinds] },
        $or: [
          clientStatusFilter('online', now, offlineAfterMs),
          clientStatusFilter('scanning', now, offlineAfterMs),
        ],
      },
      { fields: ['clientId', 'kind', 'scanRange', 'ipAddress', 'port'], orderBy: { clientId: 'asc' } },
    );
    // An agent that never said where it listens cannot be given work.
    return rows
      .filter((c) => c.kind === 'pool' || (c.ipAddress !== null && c.port !== null))
      .map((c) => ({ clientId: c.clientId, kind: c.kind, scanRange: c.scanRange }));
  }

  /** The agent's endpoint when it is an approved, enabled agent that said where it listens; else null. */
  async agentEndpoint(clientId: string): Promise<AgentEndpoint | null> {
    const c = await this.em
      .fork()
      .findOne(Client, { clientId, kind: 'agent', isApproved: true, isEnabled: true });
    if (!c || c.ipAddress === null || c.port === null) return null;
    return { clientId: c.clientId, ipAddress: c.ipAddress, port: c.port };
  }

  /** The agent's listening address whatever its approval (a cancel is sent to a revoked agent too). */
  async anyAgentEndpoint(clientId: string): Promise<AgentEndpoint | null> {
    const c = await this.em.fork().findOne(Client, { clientId, kind: 'agent' });
    if (!c || c.ipAddress === null || c.port === null) return null;
    return { clientId: c.clientId, ipAddress: c.ipAddress, port: c.port };
  }

  /** True while the worker pool is approved and enabled: only then are its batches' results taken. */
  async isApprovedPool(clientId: string): Promise<boolean> {
    const count = await this.em
      .fork()
      .count(Client, { clientId, kind: 'pool', isApproved: true, isEnabled: true });
    return count > 0;
  }

  /** The ids of every worker pool, approved or not (their queues may hold batches). */
  async poolIds(): Promise<string[]> {
    const rows = await this.em.fork().find(Client, { kind: 'pool' }, { fields: ['clientId'] });
    return rows.map((c) => c.clientId);
  }
}
