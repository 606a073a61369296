// The main thread's side of the import's parse thread: the gateway reads the body and stores the pieces while the
// thread parses and checks the file (import-parse.ts), so the two overlap (docs/performance.md, "The import
// streams"). One thread a file, ended with it.
import type { ScanScope } from '@nso/nmap';
import { HostRows, PiecesStartOver } from '@nso/persistence';
import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ImportRefusal } from './imported-hosts';
import type { ImportParseMessage, ParsedImportFacts } from './import-parse';
import type { ImportParseBlock, ImportParseProgress, ImportParseWorkerData } from './import-parse.worker';

/** The file was refused by the parse thread (ImportParse): the gateway answers 400 with `refusal`. */
export class ImportRefusedError extends Error {
  override readonly name = 'ImportRefusedError';
  constructor(readonly refusal: ImportRefusal) {
    super('nmap XML refused');
  }
}

/**
 * The thread's young generation, in MiB (V8's default is up to 3 × 16 MiB on 64 bits). Nearly everything the parse
 * makes dies young, so a small one does as well and leaves less memory committed beside the body held: with the
 * benchmark's 59 MiB file the gateway's peak RSS growth was 10–25 MiB lower, in the same time (docs/performance.md).
 */
const YOUNG_GENERATION_MB = 4;
/** Bytes of text handed to the thread at a time. */
const BLOCK = 1 << 20;
/**
 * Bytes of text handed to the thread and not parsed yet past which the body is not read on (ImportParseThread.room):
 * more than the benchmark's 59 MiB file, so such a file is read whole at once and its store overlaps its parse; a
 * larger one is held at most this much ahead of the parse (its store then starts when its body is in).
 */
export const IMPORT_READ_AHEAD = 64 << 20;

/**
 * Started from the TypeScript sources (unit tests, ts-node), the thread compiles them as it loads them, as the
 * process does; from dist/ it runs the built script.
 */
const FROM_TYPESCRIPT = `require('ts-node').register({ transpileOnly: true });
require('tsconfig-paths').register();
require(require('node:worker_threads').workerData.script);`;

/**
 * One file's parse thread. `write` the text's pieces as read, `end` once; meanwhile `pieces` gives the rows to
 * store as they are complete, and `facts` what the file says of its run once they ended. The thread's refusal of
 * the file comes as ImportRefusedError, its unexpected errors (and its end before its verdict) as Error, from
 * `started` or `pieces`. `close` ends the thread (always call it).
 */
export class ImportParseThread {
  private readonly worker: Worker;
  private readonly queue: ImportParseMessage[] = [];
  private wake: (() => void) | undefined;
  private broken: Error | undefined;
  private parsed: ParsedImportFacts | undefined;
  /** Bytes handed to the thread, and those it has parsed (ImportParseMessage `parsed`). */
  private sent = 0;
  private consumed = 0;
  private roomWaiter: (() => void) | undefined;
  /** The text not yet handed to the thread, as UTF-8: its own ArrayBuffer (never the shared pool's). */
  private block = Buffer.allocUnsafeSlow(BLOCK);
  private used = 0;

  constructor(
    scope: ScanScope,
    private readonly readAhead = IMPORT_READ_AHEAD,
  ) {
    const script = join(__dirname, `import-parse.worker${extname(__filename)}`);
    const workerData: ImportParseWorkerData & { script: string } = {
      allow: [...scope.allow],
      deny: [...scope.deny],
      script,
    };
    this.worker = script.endsWith('.ts')
      ? new Worker(FROM_TYPESCRIPT, { eval: true, workerData })
      : new Worker(script, { workerData, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    this.worker.on('message', (message: ImportParseMessage | ImportParseProgress) =>
      'parsed' in message ? this.progressed(message.parsed) : this.arrived(message),
    );
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) =>
      this.fail(new Error(`The import's parse thread ended (exit code ${code})`)),
    );
  }

  /**
   * A piece of the file's text (already checked by XmlPrologGuard). It goes to the thread as UTF-8 in blocks of
   * BLOCK bytes, each handed over without a copy (transferred): the text read ahead of the parse is held as its
   * bytes, not as strings and their serialized copies (which took about twice as much memory).
   */
  write(text: string): void {
    const bytes = Buffer.byteLength(text);
    if (this.used + bytes > this.block.length) {
      this.flush();
      if (bytes > this.block.length) this.block = Buffer.allocUnsafeSlow(bytes);
    }
    this.used += this.block.write(text, this.used);
  }

  /** Bytes of text handed to the thread and not parsed yet. */
  get ahead(): number {
    return this.sent - this.consumed;
  }

  /**
   * Resolves when the thread has at most `readAhead` bytes of text left to parse (at once, mostly): the caller
   * reads on then, so a large file is never held whole. Also resolves when the thread failed (`started` and
   * `pieces` throw it).
   */
  async room(): Promise<void> {
    while (this.ahead > this.readAhead && !this.broken) {
      await new Promise<void>((resolve) => (this.roomWaiter = resolve));
      this.roomWaiter = undefined;
    }
  }

  /** The file's text ended. */
  end(): void {
    this.flush();
    this.worker.postMessage(null);
  }

  private flush(): void {
    if (this.used === 0) return;
    const block: ImportParseBlock = { bytes: this.block.buffer, length: this.used };
    this.worker.postMessage(block, [block.bytes]);
    this.sent += block.length;
    this.block = Buffer.allocUnsafeSlow(BLOCK);
    this.used = 0;
  }

  /**
   * Resolves once a piece is ready or the file was read whole and accepted; throws the refusal when it was
   * refused first (so that a file refused before any piece was complete makes no run at all).
   */
  async started(): Promise<void> {
    const first = await this.peek();
    if (first.kind === 'refused') throw new ImportRefusedError(first.refusal);
    if (first.kind === 'failed') throw new Error(`The import's parse thread failed: ${first.message}`);
  }

  /**
   * The pieces of rows to store, in order, as the thread completes them; ends when the file was accepted
   * (`facts` then holds its facts). Throws ImportRefusedError when the file is refused, and PiecesStartOver
   * when the pieces so far must be dropped (its `pieces`: every piece, again from this thread).
   */
  async *pieces(): AsyncGenerator<HostRows> {
    for (;;) {
      const message = await this.next();
      switch (message.kind) {
        case 'pieces':
          for (const piece of message.pieces) {
            yield new HostRows(piece.hostChunks, piece.portChunks, piece.count);
          }
          break;
        case 'start-over':
          throw new PiecesStartOver(this.pieces());
        case 'done':
          this.parsed = message.facts;
          return;
        case 'refused':
          throw new ImportRefusedError(message.refusal);
        case 'failed':
          throw new Error(`The import's parse thread failed: ${message.message}`);
      }
    }
  }

  /** What the file says of its run: once `pieces` ended. */
  facts(): ParsedImportFacts {
    if (!this.parsed) throw new Error('The imported file was not read to its end');
    return this.parsed;
  }

  /** Ends the thread (at once, whatever it was doing). */
  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }

  private progressed(bytes: number): void {
    this.consumed += bytes;
    this.roomWaiter?.();
  }

  private arrived(message: ImportParseMessage): void {
    this.queue.push(message);
    this.wake?.();
  }

  private fail(error: Error): void {
    this.broken ??= error;
    this.wake?.();
    this.roomWaiter?.();
  }

  private async peek(): Promise<ImportParseMessage> {
    while (this.queue.length === 0) {
      // A verdict is the thread's last message: it ends after it, which is no failure.
      if (this.broken) throw this.broken;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
    return this.queue[0];
  }

  private async next(): Promise<ImportParseMessage> {
    await this.peek();
    return this.queue.shift()!;
  }
}
