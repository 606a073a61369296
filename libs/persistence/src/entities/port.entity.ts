import { Entity, ManyToOne, OptionalProps, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { Host } from './host.entity';

/** One port of a host. Keyed by protocol too: tcp/53 and udp/53 are different ports. */
@Entity({ tableName: 'ports' })
@Unique({ properties: ['host', 'protocol', 'port'] })
export class Port {
  declare [OptionalProps]?: 'reason' | 'serviceName' | 'product' | 'version' | 'extrainfo' | 'cpe';

  @PrimaryKey({ type: 'integer' })
  id!: number;

  @ManyToOne({ entity: () => Host, deleteRule: 'cascade' })
  host!: Host;

  /** 'tcp' | 'udp' | 'sctp' | 'ip', as nmap names it. */
  @Property({ type: 'string' })
  protocol!: string;

  @Property({ type: 'integer' })
  port!: number;

  @Property({ type: 'string' })
  state!: string;

  @Property({ type: 'string', nullable: true })
  reason: string | null = null;

  @Property({ type: 'string', nullable: true })
  serviceName: string | null = null;

  @Property({ type: 'string', nullable: true })
  product: string | null = null;

  @Property({ type: 'string', nullable: true })
  version: string | null = null;

  @Property({ type: 'string', nullable: true })
  extrainfo: string | null = null;

  @Property({ type: 'json', nullable: true })
  cpe: string[] | null = null;
}
