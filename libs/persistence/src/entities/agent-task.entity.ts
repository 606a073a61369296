import { Entity, Enum, Index, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { ScanResult } from './scan-result.entity';

export const AGENT_TASK_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
/**
 * `pending`: created, being pushed; `running`: the agent took it (answered the push); `completed`: its results
 * were stored; `failed`: unreachable, timed out (AGENT_TASK_TIMEOUT), reported failed, or its client revoked;
 * `cancelled`: its run was stopped. Results are taken only while pending or running.
 */
export type AgentTaskStatus = (typeof AGENT_TASK_STATUSES)[number];

/**
 * One batch of a run given to an HTTP agent (docs/clients.md): what the server pushed (`POST /scan`) and what
 * became of it. `taskId` is the capability the agent's results must carry: 256 random bits, never listed to
 * anyone but admins.
 */
@Entity({ tableName: 'agent_tasks' })
@Index({ properties: ['result', 'seq'] })
export class AgentTask {
  declare [OptionalProps]?: 'status' | 'batchId' | 'error' | 'resultsDigest' | 'finishedAt' | 'createdAt';

  @PrimaryKey({ type: 'integer' })
  id!: number;

  @Property({ type: 'string', unique: true })
  taskId!: string;

  /** The agent's client_id. */
  @Index()
  @Property({ type: 'string' })
  clientId!: string;

  @ManyToOne({ entity: () => ScanResult, deleteRule: 'cascade' })
  result!: ScanResult;

  @Property({ type: 'integer' })
  scanId!: number;

  /** The run's batch this task scans (its number within the run). */
  @Property({ type: 'integer' })
  seq!: number;

  @Property({ type: 'integer', nullable: true })
  batchId: number | null = null;

  /** The addresses pushed to the agent; results for any other address are refused. */
  @Property({ type: 'json' })
  targets!: string[];

  @Enum({ items: [...AGENT_TASK_STATUSES], type: 'string', default: 'pending' })
  status: AgentTaskStatus = 'pending';

  /** Results that have not arrived by then fail the task (AGENT_TASK_TIMEOUT). */
  @Property({ type: 'datetime' })
  deadline!: Date;

  @Property({ type: 'text', nullable: true })
  error: string | null = null;

  /** SHA-256 of the accepted results body: a retried identical post is answered again, a different one refused. */
  @Property({ type: 'string', nullable: true })
  resultsDigest: string | null = null;

  @Property({ type: 'datetime', nullable: true })
  finishedAt: Date | null = null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
