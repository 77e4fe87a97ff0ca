/**
 * One stop policy for the api, a worker and the web (core/src/lifecycle.ts), each run as its real
 * process, the same four cases for all three:
 * 1. SIGTERM while idle: /readyz answers 503 (or the listener is already gone), exit 0;
 * 2. SIGTERM with work in flight that outlasts the grace timeout: exit 1 after about the timeout;
 * 3. a second signal while the first one waits for work in flight: exit 1 at once;
 * 4. SIGTERM during start-up (the api and the worker waiting for a database that is not there,
 *    the web as soon as it handles signals): exit 0.
 * The work in flight is a request the test keeps open: a half-sent upload to the api and the web,
 * and, for the worker, a deployer call its outbox tick makes and the test never answers.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { VM_RELEASE_TOPIC } from '@hero/core/outbox/enqueue';
import { deprecationsOf, parseWebConfig, WebConfigError } from '@hero/web/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { waitFor } from './support/fake-deployer.ts';
import { freePort, type SpawnedProcess, spawnTs } from './support/process.ts';
import { ensureWebBuilt, startWeb } from './support/web.ts';

let db: TestDatabase;
let deployer: HeldServer;

beforeAll(async () => {
  [db, deployer] = await Promise.all([createTestDatabase(), startHeldServer(), ensureWebBuilt()]);
});
afterAll(async () => {
  await deployer?.stop();
  await db?.drop();
});

/** An HTTP server that takes requests and never answers them (until stopped). */
interface HeldServer {
  url: string;
  /** Requests received so far. */
  requests: number;
  stop(): Promise<void>;
}

async function startHeldServer(): Promise<HeldServer> {
  const held: HeldServer & { server?: Server } = { url: '', requests: 0, stop: async () => {} };
  const server = createServer((_req: IncomingMessage, _res: ServerResponse) => {
    held.requests++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  held.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  held.stop = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return held;
}

/**
 * A request whose body never finishes arriving: the server is busy with it until the connection
 * goes. Resolves once the request is in (and nothing was answered: the server is waiting).
 */
async function halfSentUpload(
  baseUrl: string,
  path: string,
  headers: Record<string, string>,
): Promise<Socket> {
  const { hostname, port, host } = new URL(baseUrl);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => {});
  let answered = '';
  socket.on('data', (chunk: Buffer) => {
    answered += chunk.toString('utf8');
  });
  await once(socket, 'connect');
  const body =
    headers['content-type'] === 'application/json' ? '{"query":"{ __typename' : 'email=a%40b.c&pass';
  const head = Object.entries({ host, ...headers, 'content-length': String(body.length + 1000) })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n${body}`);
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(answered, 'the server answered the half-sent request').toBe('');
  return socket;
}

/** GET /readyz once: its status, or `refused` when nothing listens any more. */
async function readyzStatus(url: string): Promise<number | 'refused'> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3000) });
    await res.body?.cancel();
    return res.status;
  } catch {
    return 'refused';
  }
}

/** A form post from the web's own origin: the sign-in action waits for the whole body. */
async function holdWebRequest(url: string): Promise<() => Promise<void>> {
  const socket = await halfSentUpload(url, '/signin', {
    'content-type': 'application/x-www-form-urlencoded',
    origin: url,
    accept: 'text/html',
  });
  return async () => void socket.destroy();
}

interface Running {
  process: SpawnedProcess;
  /** Where /healthz and /readyz are. */
  probeUrl: string;
}

interface Subject {
  name: string;
  /** Starts the process and resolves once it serves, idle. */
  start(graceMs: number): Promise<Running>;
  /** Starts work in flight that does not end by itself; resolves once it is in flight. */
  hold(running: Running): Promise<() => Promise<void>>;
  /** Starts the process and resolves once it handles signals and is still starting up. */
  startUp(): Promise<SpawnedProcess>;
}

/** The test database's URL on a port where nothing listens. */
async function closedDatabaseUrl(): Promise<string> {
  const url = new URL(db.url);
  url.hostname = '127.0.0.1';
  url.port = String(await freePort());
  return url.toString();
}

const ADMIN_SECRET = 'lifecycle-test-admin-secret';

const SUBJECTS: Subject[] = [
  {
    name: 'api',
    async start(graceMs) {
      const api = await startApi({
        databaseUrl: db.url,
        adminSecret: ADMIN_SECRET,
        env: { API_SHUTDOWN_TIMEOUT_MS: String(graceMs) },
      });
      return { process: api.process, probeUrl: api.url };
    },
    async hold({ probeUrl }) {
      const socket = await halfSentUpload(probeUrl, '/graphql', { 'content-type': 'application/json' });
      return async () => void socket.destroy();
    },
    async startUp() {
      const proc = spawnTs('api/src/main.ts', [], {
        DATABASE_URL: await closedDatabaseUrl(),
        ADMIN_SECRET,
        API_PORT: '0',
        NODE_ENV: 'test',
      });
      await proc.waitForLine(/database not reachable yet/);
      return proc;
    },
  },
  {
    name: 'worker outbox',
    async start(graceMs) {
      const proc = spawnTs('workers/src/main.ts', ['outbox'], {
        DATABASE_URL: db.url,
        DEPLOYER_URL: deployer.url,
        OUTBOX_INTERVAL_MS: '200',
        WORKER_HEALTH_PORT: '0',
        WORKER_HEALTH_HOST: '127.0.0.1',
        WORKER_SHUTDOWN_TIMEOUT_MS: String(graceMs),
      });
      const line = await proc.waitForLine(/health server listening/);
      await proc.waitForLine(/outbox worker started/);
      return { process: proc, probeUrl: `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}` };
    },
    async hold() {
      // One vm.release event: the next tick hands it to the deployer, which never answers.
      const before = deployer.requests;
      const payload = {
        poolVmId: 'vm-held',
        allocationId: 'a-held',
        userId: 'u-held',
        reason: null,
        releasedAt: null,
      };
      await db.query('insert into outbox (topic, payload) values ($1, $2)', [VM_RELEASE_TOPIC, payload]);
      await waitFor(async () => deployer.requests > before, 20_000, 'the deployer call');
      return async () => {
        await db.query("update outbox set status = 'DONE' where status = 'PENDING'");
      };
    },
    async startUp() {
      const proc = spawnTs('workers/src/main.ts', ['outbox'], { DATABASE_URL: await closedDatabaseUrl() });
      await proc.waitForLine(/database not reachable yet/);
      return proc;
    },
  },
  {
    name: 'web',
    async start(graceMs) {
      // The api is not needed to serve (only /readyz asks it).
      const web = await startWeb(`http://127.0.0.1:${await freePort()}`, {
        WEB_SHUTDOWN_TIMEOUT_MS: String(graceMs),
      });
      return { process: web.process, probeUrl: web.url };
    },
    hold: ({ probeUrl }) => holdWebRequest(probeUrl),
    async startUp() {
      // The web waits for nothing at start-up: signal it as soon as it handles signals.
      const proc = spawnTs(await ensureWebBuilt(), [], {
        HERO_API_URL: `http://127.0.0.1:${await freePort()}`,
        WEB_PORT: '0',
        WEB_HOST: '127.0.0.1',
        NODE_ENV: 'production',
        LOG_LEVEL: 'debug',
      });
      await proc.waitForLine(/stop signals handled/);
      return proc;
    },
  },
];

/** The line every process logs when a stop begins. */
const STOPPING = /"signal":"SIGTERM","timeoutMs":\d+/;

describe.each(SUBJECTS)('$name: one stop policy', (subject) => {
  it('SIGTERM while idle: /readyz no longer ready, exit 0', async () => {
    const { process: proc, probeUrl } = await subject.start(10_000);
    try {
      expect(await readyzStatus(probeUrl)).not.toBe('refused');
      proc.child.kill('SIGTERM');
      // The signal reaches the process's event loop a moment later: a probe sent before that is
      // still answered as ready. Once the process says it is stopping, it is not.
      await proc.waitForLine(STOPPING, 5_000);
      const ready = await readyzStatus(probeUrl);
      expect([503, 'refused'], `/readyz after SIGTERM answered ${ready}`).toContain(ready);
      expect(await proc.exited, proc.lines.join('\n')).toBe(0);
    } finally {
      await proc.stop();
    }
  });

  it('SIGTERM with work in flight past the grace timeout: cut, exit 1 after about the timeout', async () => {
    const graceMs = 1500;
    const running = await subject.start(graceMs);
    const proc = running.process;
    const release = await subject.hold(running);
    try {
      const signalled = Date.now();
      proc.child.kill('SIGTERM');
      await proc.waitForLine(STOPPING, 5_000);
      const ready = await readyzStatus(running.probeUrl);
      expect([503, 'refused'], `/readyz while stopping answered ${ready}`).toContain(ready);
      const code = await proc.exited;
      const tookMs = Date.now() - signalled;
      expect(code, proc.lines.join('\n')).toBe(1);
      expect(tookMs).toBeGreaterThanOrEqual(graceMs - 100);
      expect(tookMs).toBeLessThan(graceMs + 5_000);
      expect(proc.lines.join('\n')).toMatch(/still busy at the grace timeout/);
    } finally {
      await release();
      await proc.stop();
    }
  });

  it('a second signal while the first waits for work in flight: exit 1 at once', async () => {
    const running = await subject.start(30_000);
    const proc = running.process;
    const release = await subject.hold(running);
    try {
      proc.child.kill('SIGTERM');
      await proc.waitForLine(STOPPING, 5_000);
      const signalled = Date.now();
      proc.child.kill('SIGINT');
      expect(await proc.exited, proc.lines.join('\n')).toBe(1);
      expect(Date.now() - signalled).toBeLessThan(3_000);
      expect(proc.lines.join('\n')).toMatch(/"signal":"SIGINT".*second stop signal: exiting now/);
    } finally {
      await release();
      await proc.stop();
    }
  });

  it('SIGTERM during start-up: exit 0', async () => {
    const proc = await subject.startUp();
    try {
      const signalled = Date.now();
      proc.child.kill('SIGTERM');
      expect(await proc.exited, proc.lines.join('\n')).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(5_000);
    } finally {
      await proc.stop();
    }
  });
});

describe('the web grace timeout in milliseconds (WEB_SHUTDOWN_TIMEOUT_MS)', () => {
  it('defaults to 10 s; the deprecated WEB_SHUTDOWN_TIMEOUT is read in seconds; both set is an error', () => {
    expect(parseWebConfig({}).WEB_SHUTDOWN_TIMEOUT_MS).toBe(10_000);
    expect(deprecationsOf(parseWebConfig({}))).toEqual([]);
    expect(parseWebConfig({ WEB_SHUTDOWN_TIMEOUT_MS: '2500' }).WEB_SHUTDOWN_TIMEOUT_MS).toBe(2500);
    const old = parseWebConfig({ WEB_SHUTDOWN_TIMEOUT: '3' });
    expect(old.WEB_SHUTDOWN_TIMEOUT_MS).toBe(3000);
    expect(deprecationsOf(old)).toEqual([
      'WEB_SHUTDOWN_TIMEOUT is deprecated: set WEB_SHUTDOWN_TIMEOUT_MS=3000 instead',
    ]);
    let error: unknown;
    try {
      parseWebConfig({ WEB_SHUTDOWN_TIMEOUT: '3', WEB_SHUTDOWN_TIMEOUT_MS: '3000', WEB_PORT: 'x' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(WebConfigError);
    expect((error as WebConfigError).problems).toEqual([
      'WEB_PORT: must be a port number',
      'WEB_SHUTDOWN_TIMEOUT: deprecated, and WEB_SHUTDOWN_TIMEOUT_MS is set too: use WEB_SHUTDOWN_TIMEOUT_MS only',
    ]);
  });

  it('a web given WEB_SHUTDOWN_TIMEOUT=1 warns once at start-up and cuts after 1 s', async () => {
    const web = await startWeb(`http://127.0.0.1:${await freePort()}`, {
      WEB_SHUTDOWN_TIMEOUT: '1',
      WEB_SHUTDOWN_TIMEOUT_MS: '', // empty: unset
    });
    const proc = web.process;
    const release = await holdWebRequest(web.url);
    try {
      expect(proc.lines.filter((l) => l.includes('WEB_SHUTDOWN_TIMEOUT is deprecated'))).toEqual([
        expect.stringMatching(/"level":40,.*set WEB_SHUTDOWN_TIMEOUT_MS=1000 instead/),
      ]);
      const signalled = Date.now();
      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(1);
      expect(Date.now() - signalled).toBeGreaterThanOrEqual(900);
      expect(proc.lines.join('\n')).toMatch(/"timeoutMs":1000,"msg":"still busy at the grace timeout/);
    } finally {
      await release();
      await proc.stop();
    }
  });
});
