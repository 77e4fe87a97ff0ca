import { Worker } from 'node:worker_threads';
import type { ParseRequest, ParseResponse } from './parse-worker.ts';
import { type ParsedUsageFile, parseUsageFile, UsageFileError } from './usage-format.ts';

/**
 * Parses batch files on a worker thread, in order, so the main thread can read the next files
 * and feed the database meanwhile. Without worker threads (or if the worker cannot start) it
 * parses on the calling thread; the result is the same either way.
 */
export class ParsePool {
  private worker: Worker | null = null;
  private failed = false;
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (p: ParsedUsageFile) => void; reject: (e: Error) => void; path: string }
  >();

  private start(): Worker | null {
    if (this.worker || this.failed) return this.worker;
    try {
      const worker = new Worker(new URL('./parse-worker.ts', import.meta.url));
      worker.on('message', (res: ParseResponse) => {
        const waiter = this.waiting.get(res.id);
        if (!waiter) return;
        this.waiting.delete(res.id);
        if (res.ok) waiter.resolve(res.parsed);
        else
          waiter.reject(
            res.fileError ? new UsageFileError(waiter.path, res.message) : new Error(res.message),
          );
      });
      worker.on('error', (err) => this.fail(err));
      worker.on('exit', (code) => {
        if (this.worker === worker) this.fail(new Error(`the parse worker exited (${code})`));
      });
      worker.unref();
      this.worker = worker;
    } catch {
      this.failed = true;
    }
    return this.worker;
  }

  private fail(err: Error): void {
    this.worker = null;
    this.failed = true;
    for (const waiter of this.waiting.values()) waiter.reject(err);
    this.waiting.clear();
  }

  /** True once a file went to the worker thread (false: parsing on the calling thread). */
  get threaded(): boolean {
    return this.worker !== null;
  }

  /** The file parsed (throws UsageFileError when it is not a usage batch). */
  parse(content: Buffer, file: { node: string; path: string }): Promise<ParsedUsageFile> {
    const worker = this.start();
    if (!worker) return Promise.resolve().then(() => parseUsageFile(content.toString('utf8'), file));
    const id = this.nextId++;
    return new Promise<ParsedUsageFile>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, path: file.path });
      const req: ParseRequest = { id, content, node: file.node, path: file.path };
      worker.postMessage(req);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.failed = true;
    if (worker) await worker.terminate();
  }
}
