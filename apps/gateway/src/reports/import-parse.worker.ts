// The import's parse thread (node:worker_threads): ImportParse over the text the main thread posts (a string a
// piece, then null for the end), its messages posted back. Started by ImportParseThread with the scan scope's
// lists as workerData; loads no Nest and no database code (import-parse.ts).
import { ScanScope } from '@nso/nmap/scope';
import { parentPort, workerData } from 'node:worker_threads';
import { ImportParse, type ImportParseMessage } from './import-parse';

/** The thread's workerData. */
export interface ImportParseWorkerData {
  /** The scan scope (ScanScope's allow and deny lists). */
  allow: string[];
  deny: string[];
}

const port = parentPort!;
const post = (message: ImportParseMessage) => port.postMessage(message);
const { allow, deny } = workerData as ImportParseWorkerData;
const parse = new ImportParse(new ScanScope(allow, deny), post);

port.on('message', (text: string | null) => {
  try {
    if (text === null) {
      parse.end();
      port.close();
    } else {
      parse.write(text);
    }
  } catch (error) {
    post({
      kind: 'failed',
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    port.close();
  }
});
