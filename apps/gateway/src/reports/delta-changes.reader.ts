// Reads a delta report's change rows (delta_changes) a page at a time, in order: keyset on (report_id, seq), so
// each page is one index range scan however deep into a 100,000-change report it is.
import { EntityManager } from '@mikro-orm/core';
import { Injectable } from '@nestjs/common';
import type { DeltaChangeRow } from '@nso/delta';
import { knexOf } from '@nso/persistence';

/**
 * Rows per page: a few hundred KB of row objects, which die young (a page is written out before V8's scavenges
 * promote it to the old generation), and 100 round trips for 100,000 rows. With pages of 5,000 the gateway's
 * resident set grew by 67 MB while exporting a 23 MB CSV (pages promoted, collected late); with 1,000, by 7 MB.
 */
export const CHANGE_PAGE = 1000;

@Injectable()
export class DeltaChangesReader {
  constructor(private readonly em: EntityManager) {}

  /**
   * The change rows of report `reportId`, `seq` ascending, fetched `pageSize` at a time only as the consumer
   * iterates (a CSV writer under backpressure pulls the next page only when it wants rows). Empty for a report
   * stored before the delta_changes table, or one without changes. JSON columns are parsed (SQLite returns text).
   */
  async *rows(reportId: number, pageSize = CHANGE_PAGE): AsyncGenerator<DeltaChangeRow> {
    const knex = knexOf(this.em);
    for (let after = 0; ;) {
      const page: Array<Record<string, unknown>> = await knex('delta_changes')
        .where('report_id', reportId)
        .andWhere('seq', '>', after)
        .orderBy('seq')
        .limit(pageSize)
        .select('seq', 'kind', 'address', 'protocol', 'port', 'before', 'after', 'detail');
      for (const row of page) {
        yield {
          seq: Number(row.seq),
          kind: row.kind as DeltaChangeRow['kind'],
          address: String(row.address),
          protocol: (row.protocol as string | null) ?? null,
          port: row.port === null || row.port === undefined ? null : Number(row.port),
          before: parsed(row.before),
          after: parsed(row.after),
          detail: parsed(row.detail),
        };
      }
      if (page.length < pageSize) return;
      after = Number(page[page.length - 1].seq);
    }
  }
}

function parsed(value: unknown): Record<string, unknown> | null {
  if (value === null || value === undefined) return null;
  return (typeof value === 'string' ? JSON.parse(value) : value) as Record<string, unknown>;
}
