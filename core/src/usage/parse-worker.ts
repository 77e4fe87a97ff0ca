import { parentPort } from 'node:worker_threads';
import { parseUsageFile, UsageFileError } from './usage-format.ts';

/**
 * The parse worker (a worker thread of the aggregator): parses and validates batch files off
 * the main thread, which meanwhile reads the next files and feeds the database. Runs under
 * Node's type stripping, so this module and what it imports are erasable TypeScript only.
 */

export interface ParseRequest {
  id: number;
  content: Uint8Array;
  node: string;
  path: string;
}

export type ParseResponse =
  | { id: number; ok: true; parsed: ReturnType<typeof parseUsageFile> }
  | { id: number; ok: false; fileError: boolean; message: string };

const port = parentPort;
if (port) {
  const decoder = new TextDecoder();
  port.on('message', (req: ParseRequest) => {
    let res: ParseResponse;
    try {
      const parsed = parseUsageFile(decoder.decode(req.content), { node: req.node, path: req.path });
      res = { id: req.id, ok: true, parsed };
    } catch (err) {
      res = {
        id: req.id,
        ok: false,
        fileError: err instanceof UsageFileError,
        message: err instanceof UsageFileError ? err.message.slice(req.path.length + 2) : String(err),
      };
    }
    port.postMessage(res);
  });
}
