// The durable side of a scan's event seqs. Redis stamps every event with the next seq from a counter; the counter
// lives in Redis only, so a Redis that restarts empty would start it again at 1 and resuming clients (`?since=`)
// would skip everything that follows. Seqs are therefore handed out in blocks reserved here first: the Redis
// counter never passes the highest reservation, and a counter that has gone missing continues after it.
import type { EntityManager } from '@mikro-orm/core';
import { knexOf } from './sql';

/** A block of seqs: every seq in (after, upTo] is this caller's to hand out. */
export interface ScanEventSeqBlock {
  after: number;
  upTo: number;
}

/**
 * Reserves the next `count` seqs of a scan: one UPDATE … RETURNING, so concurrent callers (workers, gateways)
 * get disjoint blocks. `after` is the highest seq anyone could have been given before this call. Throws when the
 * scan does not exist (deleted: its events have no one to go to).
 */
export async function reserveScanEventSeqs(
  em: EntityManager,
  scanId: number,
  count: number,
): Promise<ScanEventSeqBlock> {
  if (!Number.isSafeInteger(count) || count < 1) throw new Error(`cannot reserve ${count} seqs`);
  const knex = knexOf(em);
  const rows: Array<{ event_seq_reserved: number | string }> = await knex('scans')
    .where({ id: scanId })
    .update({ event_seq_reserved: knex.raw('event_seq_reserved + ?', [count]) }, ['event_seq_reserved']);
  if (rows.length === 0) throw new Error(`scan ${scanId} does not exist`);
  const upTo = Number(rows[0].event_seq_reserved);
  return { after: upTo - count, upTo };
}

/**
 * The reservations as a provider (PersistenceModule): the durable side the scan event publisher needs
 * (ScanSeqReservations of @nso/events), without the EntityManager.
 */
export class ScanEventSeqStore {
  constructor(private readonly em: EntityManager) {}

  /** Reserves the next `count` seqs of scan `scanId`, as reserveScanEventSeqs; throws for an unknown scan. */
  reserve(scanId: number, count: number): Promise<ScanEventSeqBlock> {
    return reserveScanEventSeqs(this.em, scanId, count);
  }
}
