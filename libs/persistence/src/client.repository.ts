// The clients table: every write of its rows is here (an agent's enrolment and heartbeats, an admin's approval,
// a worker pool's registration), and the reads of the run's domain: which scanner clients may get work now.
import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { clientStatusFilter } from './client-status';
import { Client, type ClientKind, type ClientStatus } from './entities';
import { isDuplicateError } from './errors';

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

/** The fields of a client an edit may set (heartbeat, PUT, approval, toggle); those left out keep their values. */
export type ClientPatch = Partial<
  Pick<
    Client,
    | 'hostname'
    | 'ipAddress'
    | 'port'
    | 'scanRange'
    | 'status'
    | 'activeScans'
    | 'systemInfo'
    | 'capabilities'
    | 'isApproved'
    | 'approvedIp'
    | 'approvedAt'
    | 'isEnabled'
    | 'sourceIp'
    | 'lastSeen'
  >
>;

/** Which clients a list shows: by status (the one status rule, at `now`), approval and kind. */
export interface ClientListFilter {
  status?: ClientStatus;
  isApproved?: boolean;
  kind?: ClientKind;
  now: Date;
  /** CLIENT_OFFLINE_AFTER, for the status rule. */
  offlineAfterMs: number;
}

/** One heartbeat of a worker pool: what its row is refreshed with, or created with. */
export interface PoolBeat {
  clientId: string;
  now: Date;
  scanRange: string[];
  hostname: string;
  /** Batches in progress on the pool's queue: `scanning` when more than 0. */
  activeScans: number;
  /** WORKER_AUTO_APPROVE: a pool created (or taking over an unapproved agent's id) is approved at once. */
  autoApprove: boolean;
}

/**
 * What a pool's heartbeat did: `refreshed` its row; `created` it (this replica's insert won); `taken-over` the row
 * of an unapproved HTTP agent that held the id (`holder` as it was); `held-by-agent`: an approved agent holds
 * the id and nothing was written; `raced`: the holder changed between the read and the write, nothing written.
 */
export type PoolRegistration =
  | { kind: 'refreshed' }
  | { kind: 'created'; client: Client }
  | { kind: 'taken-over'; holder: Client }
  | { kind: 'held-by-agent' }
  | { kind: 'raced' };

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

  /** The client of `clientId`, any kind; null when unknown. */
  findByClientId(clientId: string): Promise<Client | null> {
    return this.em.fork().findOne(Client, { clientId });
  }

  /**
   * Stores a new HTTP agent (unapproved; `scanning` when it reports active scans, else `online`). When another
   * request enrolled the same id first (a unique violation), returns that row with `created` false. Null when
   * the row is gone again by the time it is read back (deleted at that moment).
   */
  async enrolAgent(
    clientId: string,
    fields: ClientPatch,
    now: Date,
  ): Promise<{ client: Client; created: boolean } | null> {
    const em = this.em.fork();
    try {
      em.create(Client, {
        clientId,
        kind: 'agent',
        scanRange: [],
        ...fields,
        status: (fields.activeScans ?? 0) > 0 ? 'scanning' : 'online',
        createdAt: now,
      });
      await em.flush();
      const client = await this.findByClientId(clientId);
      return client && { client, created: true };
    } catch (error) {
      if (!isDuplicateError(error)) throw error;
      const client = await this.findByClientId(clientId);
      return client && { client, created: false };
    }
  }

  /** Deletes the client when it is still unapproved (an enrolment past the limit is taken back). */
  async removeUnapproved(id: number): Promise<void> {
    await this.em.fork().nativeDelete(Client, { id, isApproved: false });
  }

  /** Deletes the client row (what it scanned keeps its id as text). */
  async remove(id: number): Promise<void> {
    await this.em.fork().nativeDelete(Client, { id });
  }

  /**
   * Records a request for an approved agent refused from `source` (refused_ip, refused_at, one more
   * refused_count), for admins to see. `updated_at` is left as it was: a refusal is not a change of the client.
   */
  async recordRefusal(client: Pick<Client, 'id' | 'refusedCount'>, source: string, now: Date): Promise<void> {
    await this.em
      .fork()
      .nativeUpdate(
        Client,
        { id: client.id },
        { refusedIp: source, refusedAt: now, refusedCount: client.refusedCount + 1 },
      );
  }

  /**
   * Sets the fields of `patch` on client row `id`; `updated_at` moves only when a value changed. Returns the
   * client as stored, or null when the row is gone.
   */
  async update(id: number, patch: ClientPatch): Promise<Client | null> {
    const em = this.em.fork();
    const client = await em.findOne(Client, id);
    if (!client) return null;
    em.assign(client, patch);
    await em.flush();
    return client;
  }

  /** A page of clients in id order, filtered (ClientListFilter), and how many match in all. */
  async page(
    filter: ClientListFilter,
    window: { limit: number; offset: number },
  ): Promise<{ clients: Client[]; total: number }> {
    const conditions: FilterQuery<Client>[] = [];
    if (filter.status) conditions.push(clientStatusFilter(filter.status, filter.now, filter.offlineAfterMs));
    if (filter.isApproved !== undefined) conditions.push({ isApproved: filter.isApproved });
    if (filter.kind) conditions.push({ kind: filter.kind });
    const [clients, total] = await this.em
      .fork()
      .findAndCount(Client, conditions.length > 0 ? { $and: conditions } : {}, {
        orderBy: { id: 'asc' },
        limit: window.limit,
        offset: window.offset,
      });
    return { clients, total };
  }

  /**
   * One heartbeat of a worker pool (PoolRegistration says what it did): refreshes its row (last_seen, status,
   * active_scans, scan_range, hostname), or creates it, approved when `autoApprove` holds (only at creation: a
   * pool an admin revoked stays revoked). A client_id an unapproved HTTP agent holds is taken over (anyone can
   * heartbeat any id; a pool has a credential, the database); an approved agent's is left alone. When another
   * replica created the row at the same moment, that row is refreshed.
   */
  async registerPool(beat: PoolBeat): Promise<PoolRegistration> {
    const em = this.em.fork();
    const { clientId, now, autoApprove: approve } = beat;
    const refresh = {
      lastSeen: now,
      status: beat.activeScans > 0 ? ('scanning' as const) : ('online' as const),
      activeScans: beat.activeScans,
      scanRange: beat.scanRange,
      hostname: beat.hostname,
      updatedAt: now,
    };
    if ((await em.nativeUpdate(Client, { clientId, kind: 'pool' }, refresh)) > 0)
      return { kind: 'refreshed' };
    const holder = await em.findOne(Client, { clientId });
    if (holder?.isApproved) return { kind: 'held-by-agent' };
    if (holder) {
      const taken = await em.nativeUpdate(
        Client,
        { id: holder.id, kind: 'agent', isApproved: false },
        {
          ...refresh,
          kind: 'pool',
          ipAddress: null,
          port: null,
          sourceIp: null,
          systemInfo: null,
          capabilities: null,
          isApproved: approve,
          approvedAt: approve ? now : null,
          approvedIp: null,
        },
      );
      return taken > 0 ? { kind: 'taken-over', holder } : { kind: 'raced' };
    }
    try {
      const created = em.create(Client, {
        clientId,
        kind: 'pool',
        ...refresh,
        isApproved: approve,
        approvedAt: approve ? now : null,
        createdAt: now,
      });
      await em.flush();
      return { kind: 'created', client: created };
    } catch (error) {
      if (!isDuplicateError(error)) throw error;
      await this.em.fork().nativeUpdate(Client, { clientId, kind: 'pool' }, refresh);
      return { kind: 'refreshed' };
    }
  }
}
