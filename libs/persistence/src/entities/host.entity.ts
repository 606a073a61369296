import {
  Collection,
  Entity,
  Index,
  ManyToOne,
  OneToMany,
  OptionalProps,
  PrimaryKey,
  Property,
  Unique,
} from '@mikro-orm/core';
import { Batch } from './batch.entity';
import { Port } from './port.entity';
import { ScanResult } from './scan-result.entity';

export interface HostnameEntry {
  name: string;
  type?: string;
}

/** A host as nmap reported it in one run; unique per run by address. */
@Entity({ tableName: 'hosts' })
@Index({ properties: ['batch'] })
@Unique({ properties: ['result', 'address'] })
export class Host {
  declare [OptionalProps]?: 'hostnames' | 'reason' | 'mac' | 'os' | 'unlistedStates' | 'createdAt';

  @PrimaryKey({ type: 'integer' })
  id!: number;

  @ManyToOne({ entity: () => ScanResult, deleteRule: 'cascade' })
  result!: ScanResult;

  @ManyToOne({ entity: () => Batch, deleteRule: 'cascade' })
  batch!: Batch;

  @Property({ type: 'string' })
  address!: string;

  @Property({ type: 'string' })
  addressType!: string;

  @Property({ type: 'json' })
  hostnames: HostnameEntry[] = [];

  @Property({ type: 'string' })
  state!: string;

  @Property({ type: 'string', nullable: true })
  reason: string | null = null;

  @Property({ type: 'string', nullable: true })
  mac: string | null = null;

  @Property({ type: 'json', nullable: true })
  os: unknown = null;

  /** The states of the ports nmap scanned and did not list (`<extraports state>`), comma-separated; null: none. */
  @Property({ type: 'string', nullable: true })
  unlistedStates: string | null = null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @OneToMany({ entity: () => Port, mappedBy: 'host' })
  ports = new Collection<Port>(this);
}
