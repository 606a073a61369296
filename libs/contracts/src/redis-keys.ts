// Redis key and channel names. Every name starts with the deployment prefix (REDIS_PREFIX), so test runs and
// deployments sharing one Redis never see each other's data.

export const redisKeys = (prefix: string) => ({
  /** REDIS_PREFIX itself, for key families defined next to the code that owns them. */
  prefix,
  /** Pub/sub channel of one scan's events; a gateway subscribes while it has a subscriber for that scan. */
  scanChannel: (scanId: number) => `${prefix}:events:scan:${scanId}`,
  /** Pub/sub channel for control messages to workers (stop a scan). */
  controlChannel: `${prefix}:control`,
  /** Per-scan sequence counter. */
  scanSeq: (scanId: number) => `${prefix}:scan:${scanId}:seq`,
  /** The highest seq the counter may reach: the end of the block reserved in the database (scans.event_seq_reserved). */
  scanSeqLimit: (scanId: number) => `${prefix}:scan:${scanId}:seq-limit`,
  /** Set while one publisher's calls for a scan are refused, so that they are retried in call order. */
  scanSeqFence: (scanId: number, publisherId: string) => `${prefix}:scan:${scanId}:seq-fence:${publisherId}`,
  /** Per-scan bounded event log (a sorted set scored by seq). */
  scanLog: (scanId: number) => `${prefix}:scan:${scanId}:log`,
  /** Per-run state hash: cursor of the next batch to enqueue, counters, stop flag. */
  runState: (resultId: number) => `${prefix}:run:${resultId}`,
  /** Held while one process reconciles a run with the database (a lock with a TTL). */
  runReconcileLock: (resultId: number) => `${prefix}:run:${resultId}:reconciling`,
  /** Held while one process starts a run of a scan (execute, schedule), so one scan never runs twice at once. */
  scanStartLock: (scanId: number) => `${prefix}:scan:${scanId}:starting`,
  /** Heartbeat of a worker or delta process, with a TTL. */
  processHeartbeat: (kind: string, id: string) => `${prefix}:heartbeat:${kind}:${id}`,
  processHeartbeatPattern: (kind: string) => `${prefix}:heartbeat:${kind}:*`,
  /** A login session, by the SHA-256 of its cookie value. */
  session: (idDigest: string) => `${prefix}:session:${idDigest}`,
  /** BullMQ's own prefix for queues. */
  bullPrefix: `${prefix}:bull`,
});

export type RedisKeys = ReturnType<typeof redisKeys>;

export type ControlMessage = { type: 'stop'; scanId: number; resultId: number };
