// @nso/persistence/rows: a batch's hosts encoded as the rows the inserts take (HostRows), without the rest of the
// library. For code that encodes rows away from the database: the import's parse thread
// (apps/gateway/src/reports/import-parse.worker.ts) must not load MikroORM and knex to do it.
export {
  HostRows,
  HostRowsBuilder,
  ResultValueError,
  resultValueProblems,
  type EncodedHost,
  type HostResultInput,
  type PortResultInput,
  type RowsChunk,
} from './batch-hosts';
