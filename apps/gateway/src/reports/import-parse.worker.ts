// The import's parse thread (node:worker_threads): ImportParse over the text the main thread posts (its UTF-8
// bytes in blocks, then null for the end), its messages posted back. Started by ImportParseThread with the scan scope's
// lists as workerData; loads no Nest and no database code (import-parse.ts).
import { ScanScope } from '@nso/nmap/scope';
import { StringDecoder } from 'node:string_decoder';
import { parentPort, workerData } from 'node:worker_threads';
import { ImportParse, type ImportParseMessage } from './import-parse';

/** The thread's workerData. */
export interface ImportParseWorkerData {
  /** The scan scope (ScanScope's allow and deny lists). */
  allow: string[];
  deny: string[];
}

/** A block of the file's text as UTF-8: the first `length` bytes of `bytes` (transferred, not copied). */
export interface ImportParseBlock {
  bytes: ArrayBuffer;
  length: number;
}

/** Bytes of text parsed: posted after each block, for the main thread's bound on what it reads ahead. */
export interface ImportParseProgress {
  parsed: number;
}

const port = parentPort!;
const decoder = new StringDecoder('utf8');
const post = (message: ImportParseMessage) => port.postMessage(message);
const { allow, deny } = workerData as ImportParseWorkerData;
const parse = new ImportParse(new ScanScope(allow, deny), post);

port.on('message', (block: ImportParseBlock | null) => {
  try {
    if (block === null) {
      const rest = decoder.end();
      if (rest !== '') parse.write(rest);
      parse.end();
      port.close();
    } else {
      parse.write(decoder.write(Buffer.from(block.bytes, 0, block.length)));
      const progress: ImportParseProgress = { parsed: block.length };
      port.postMessage(progress);
    }
  } catch (error) {
    post({
      kind: 'failed',
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    port.close();
  }
});
