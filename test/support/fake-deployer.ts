import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DeployerCall {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The JSON body, parsed (the raw text when it is not JSON). */
  body: any;
  /** The body exactly as received (what a signature covers). */
  rawBody: string;
  /** 1 for the first call with this idempotency key, 2 for the second… */
  nthForKey: number;
}

export interface DeployerAnswer {
  status: number;
  body?: string;
  /** Wait this long before answering. */
  delayMs?: number;
}

export interface FakeDeployer {
  url: string;
  calls: DeployerCall[];
  /** The calls carrying this idempotency key. */
  callsFor(key: string): DeployerCall[];
  stop(): Promise<void>;
}

/** A deployer on 127.0.0.1:<ephemeral>; `answer` decides each response (default 200). */
export async function startFakeDeployer(
  answer: (call: DeployerCall) => DeployerAnswer = () => ({ status: 200 }),
): Promise<FakeDeployer> {
  const calls: DeployerCall[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {}
      const key = String(req.headers['idempotency-key'] ?? '');
      const call: DeployerCall = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        rawBody: text,
        nthForKey: calls.filter((c) => c.headers['idempotency-key'] === key).length + 1,
      };
      calls.push(call);
      const { status, body: out = JSON.stringify({ ok: status < 300 }), delayMs = 0 } = answer(call);
      setTimeout(() => res.writeHead(status, { 'content-type': 'application/json' }).end(out), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    callsFor: (key) => calls.filter((c) => c.headers['idempotency-key'] === key),
    stop: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Polls `check` until it returns a truthy value (returned), or throws after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
