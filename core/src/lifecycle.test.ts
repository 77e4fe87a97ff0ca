import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpServerStop } from './lifecycle.ts';

/** The HTTP stop step on a real server and raw client sockets: what a stop does to each connection. */

let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

async function listening(): Promise<{ server: Server; port: number; stop: () => Promise<void> }> {
  const s = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('answered');
  });
  const step = httpServerStop(s);
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  server = s;
  const { port } = s.address() as { port: number };
  return { server: s, port, stop: step.stop };
}

/** A raw connection, and everything it reads until the server closes it (or `error: CODE`). */
async function rawConnection(port: number): Promise<{ socket: Socket; received: Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let text = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  const received = new Promise<string>((resolve) => {
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(`${text}error: ${err.code}`));
    socket.once('close', () => resolve(text));
  });
  return { socket, received };
}

const REQUEST = 'GET / HTTP/1.1\r\nhost: localhost\r\n\r\n';

describe('httpServerStop', () => {
  it('a connection accepted before the stop whose request comes just after it is answered, with connection: close', async () => {
    const { port, stop } = await listening();
    const { socket, received } = await rawConnection(port);
    // Let the server accept it: it is open, and has sent nothing yet.
    await new Promise((r) => setTimeout(r, 50));
    const stopped = stop();
    await new Promise((r) => setTimeout(r, 200));
    socket.write(REQUEST);
    const text = await received;
    expect(text).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(text.toLowerCase()).toContain('connection: close');
    expect(text).toContain('answered');
    await stopped;
  });

  it('a kept-alive connection that has had its answer is closed at once', async () => {
    const { port, stop } = await listening();
    const { socket, received } = await rawConnection(port);
    socket.write(REQUEST);
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    const startedAt = Date.now();
    await stop();
    expect(Date.now() - startedAt).toBeLessThan(1_000);
    expect(await received).toContain('answered');
  });

  it('a connection that stays silent is closed after the grace, and the stop completes', async () => {
    const { port, stop } = await listening();
    const { received } = await rawConnection(port);
    await new Promise((r) => setTimeout(r, 50));
    const startedAt = Date.now();
    await stop();
    const took = Date.now() - startedAt;
    expect(took).toBeGreaterThanOrEqual(1_900);
    expect(took).toBeLessThan(5_000);
    expect(await received).toBe('');
  });

  it('connections the kernel completed while the event loop was busy are accepted and answered', async () => {
    const { port, stop } = await listening();
    const sockets = Array.from({ length: 20 }, () => {
      const socket = connect(port, '127.0.0.1');
      socket.write(REQUEST);
      let text = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      return new Promise<string>((resolve) => {
        socket.once('error', (err: NodeJS.ErrnoException) => resolve(`${text}error: ${err.code}`));
        socket.once('close', () => resolve(text));
      });
    });
    // Block the event loop: the kernel completes the 20 handshakes and queues them unaccepted.
    await new Promise((r) => setImmediate(r));
    const until = Date.now() + 200;
    while (Date.now() < until) {
      // busy
    }
    const stopped = stop();
    const answers = await Promise.all(sockets);
    await stopped;
    expect(answers.filter((text) => !text.includes('answered'))).toEqual([]);
  });

  it('after the stop nothing new is accepted', async () => {
    const { port, stop } = await listening();
    await stop();
    const socket = connect(port, '127.0.0.1');
    const [err] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNREFUSED');
  });
});
