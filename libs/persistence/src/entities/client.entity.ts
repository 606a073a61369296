import { Entity, Enum, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';

export const CLIENT_KINDS = ['pool', 'agent'] as const;
/** `pool`: worker processes sharing WORKER_CLIENT_ID (they report through the database); `agent`: an HTTP agent. */
export type ClientKind = (typeof CLIENT_KINDS)[number];

export const CLIENT_STATUSES = ['online', 'scanning', 'offline'] as const;
export type ClientStatus = (typeof CLIENT_STATUSES)[number];

/**
 * A scanner client of seed 003 ("Client Management"): a worker pool or an HTTP agent, the CIDRs it scans, and
 * whether an admin approved it. `status` is what the client last reported; the status shown to users also
 * depends on `last_seen` and `is_enabled` (client-status.ts computes it, the same everywhere).
 */
@Entity({ tableName: 'clients' })
export class Client {
  declare [OptionalProps]?:
    | 'hostname'
    | 'ipAddress'
    | 'port'
    | 'status'
    | 'activeScans'
    | 'capabilities'
    | 'systemInfo'
    | 'isApproved'
    | 'approvedIp'
    | 'approvedAt'
    | 'isEnabled'
    | 'sourceIp'
    | 'lastSeen'
    | 'refusedIp'
    | 'refusedAt'
    | 'refusedCount'
    | 'createdAt'
    | 'updatedAt';

  @PrimaryKey({ type: 'integer' })
  id!: number;

  /** The client's own name for itself (an agent's MAC address, a pool's WORKER_CLIENT_ID). */
  @Property({ type: 'string', unique: true })
  clientId!: string;

  @Enum({ items: [...CLIENT_KINDS], type: 'string' })
  kind!: ClientKind;

  @Property({ type: 'string', nullable: true })
  hostname: string | null = null;

  /** Where an agent says it listens (for pushed work, in the delegation step); null for pools. */
  @Property({ type: 'string', nullable: true })
  ipAddress: string | null = null;

  @Property({ type: 'integer', nullable: true })
  port: number | null = null;

  /** The CIDRs the client scans, normalised. Only their part inside the scan scope is ever delegated. */
  @Property({ type: 'json' })
  scanRange!: string[];

  @Enum({ items: [...CLIENT_STATUSES], type: 'string', default: 'online' })
  status: ClientStatus = 'online';

  @Property({ type: 'integer', default: 0 })
  activeScans: number = 0;

  @Property({ type: 'json', nullable: true })
  capabilities: unknown = null;

  @Property({ type: 'json', nullable: true })
  systemInfo: unknown = null;

  @Property({ type: 'boolean', default: false })
  isApproved: boolean = false;

  /** The source address the approval saw: an approved agent is bound to it (docs/clients.md). */
  @Property({ type: 'string', nullable: true })
  approvedIp: string | null = null;

  @Property({ type: 'datetime', nullable: true })
  approvedAt: Date | null = null;

  /** Seed 003's "Toggle Client Visibility": a disabled client shows as offline and gets no work. */
  @Property({ type: 'boolean', default: true })
  isEnabled: boolean = true;

  /** The source address of the last request accepted for this client (agents only). */
  @Property({ type: 'string', nullable: true })
  sourceIp: string | null = null;

  @Property({ type: 'datetime', nullable: true })
  lastSeen: Date | null = null;

  /** The last address a request for this approved client was refused from, shown to admins. */
  @Property({ type: 'string', nullable: true })
  refusedIp: string | null = null;

  @Property({ type: 'datetime', nullable: true })
  refusedAt: Date | null = null;

  @Property({ type: 'integer', default: 0 })
  refusedCount: number = 0;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
