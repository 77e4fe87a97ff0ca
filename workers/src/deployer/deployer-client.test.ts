import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  bodyExcerpt,
  createDeployerClient,
  DeployerError,
  type ReleaseVmRequest,
} from './deployer-client.ts';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let baseUrl: string;
let received: Received[] = [];
let answer: (req: IncomingMessage, res: ServerResponse) => void;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  received = [];
  answer = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
});

const body: ReleaseVmRequest = {
  pool_vm_id: 'vm-001',
  allocation_id: '7b0c4a52-6c1e-4a43-9f7e-2f0d1f7c9a10',
  user_id: '0f7f8a0e-1b1d-4f5e-9f5a-3c2b1a0d9e8f',
  reason: 'USER',
  released_at: '2026-11-23T10:00:00.000Z',
};

describe('deployer client', () => {
  it('POSTs the JSON body to <base>/admin/release-vm with the idempotency key and bearer token', async () => {
    const client = createDeployerClient({ baseUrl: `${baseUrl}/`, token: 's3cret-token', timeoutMs: 2000 });
    await expect(client.releaseVm(body, { idempotencyKey: 'outbox-42' })).resolves.toEqual({ status: 200 });
    expect(received).toHaveLength(1);
    const [call] = received;
    expect(call.method).toBe('POST');
    expect(call.url).toBe('/admin/release-vm');
    expect(call.headers['content-type']).toBe('application/json');
    expect(call.headers['idempotency-key']).toBe('outbox-42');
    expect(call.headers.authorization).toBe('Bearer s3cret-token');
    expect(JSON.parse(call.body)).toEqual(body);
  });

  it('keeps a path prefix of the base URL and sends no authorization without a token', async () => {
    const client = createDeployerClient({ baseUrl: `${baseUrl}/ops/deployer`, timeoutMs: 2000 });
    await client.releaseVm(body, { idempotencyKey: 'k' });
    expect(received[0].url).toBe('/ops/deployer/admin/release-vm');
    expect(received[0].headers.authorization).toBeUndefined();
  });

  it('accepts any 2xx answer', async () => {
    answer = (_req, res) => res.writeHead(204).end();
    const client = createDeployerClient({ baseUrl, timeoutMs: 2000 });
    await expect(client.releaseVm(body, { idempotencyKey: 'k' })).resolves.toEqual({ status: 204 });
  });

  it('throws on a non-2xx answer with the status and a short excerpt of the body, never the token', async () => {
    answer = (_req, res) => res.writeHead(503).end(`upstream\n  busy ${'x'.repeat(500)}`);
    const client = createDeployerClient({ baseUrl, token: 's3cret-token', timeoutMs: 2000 });
    const err = await client.releaseVm(body, { idempotencyKey: 'k' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeployerError);
    const { message, status } = err as DeployerError;
    expect(status).toBe(503);
    expect(message).toMatch(/^deployer POST \/admin\/release-vm answered HTTP 503: upstream busy x+…$/);
    expect(message.length).toBeLessThan(300);
    expect(message).not.toContain('s3cret-token');
  });

  it('treats a redirect as a failure (it is not followed)', async () => {
    answer = (_req, res) => res.writeHead(302, { location: 'http://example.invalid/' }).end();
    const client = createDeployerClient({ baseUrl, timeoutMs: 2000 });
    await expect(client.releaseVm(body, { idempotencyKey: 'k' })).rejects.toThrow(/answered HTTP 302$/);
  });

  it('times out a deployer that does not answer', async () => {
    answer = () => {}; // never answers
    const client = createDeployerClient({ baseUrl, timeoutMs: 300 });
    const started = Date.now();
    await expect(client.releaseVm(body, { idempotencyKey: 'k' })).rejects.toThrow(
      'deployer POST /admin/release-vm timed out after 300 ms',
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('reports a refused connection', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const client = createDeployerClient({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 2000 });
    await expect(client.releaseVm(body, { idempotencyKey: 'k' })).rejects.toThrow(
      /^deployer POST \/admin\/release-vm failed: .*ECONNREFUSED/,
    );
  });

  it('stops when the caller aborts', async () => {
    answer = () => {};
    const controller = new AbortController();
    const client = createDeployerClient({ baseUrl, timeoutMs: 10_000 });
    const pending = client.releaseVm(body, { idempotencyKey: 'k', signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await expect(pending).rejects.toThrow(/aborted \(shutting down\)/);
  });
});

describe('bodyExcerpt', () => {
  it('flattens whitespace and cuts long bodies', () => {
    expect(bodyExcerpt('  a\n\tb  ')).toBe('a b');
    expect(bodyExcerpt('abcdef', 3)).toBe('abc…');
    expect(bodyExcerpt('')).toBe('');
  });
});
