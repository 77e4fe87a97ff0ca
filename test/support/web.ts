/**
 * The stack the browser tests drive: a real api process and a real web process
 * (web/server/main.ts serving the production build) on a database of their own, plus helpers
 * that talk to them the way a browser (or an attacker with curl) would.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inject } from 'vitest';
import { buildWeb, webBuildStatus, withWebBuildLock } from '../../scripts/lib/web-build.ts';
import { type ApiProcess, startApi } from './api.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { childEnv } from './env.ts';
import {
  ADMIN_SIGN_IN,
  allocate,
  givePlan,
  type PoolVmFixture,
  type SignedUpUser,
  signUpUser,
} from './factories.ts';
import { graphql, type ResultOf } from './graphql.ts';
import { REPO_ROOT } from './postgres.ts';
import { freePort, type SpawnedProcess, spawnTs } from './process.ts';
import { WEB_SNAPSHOTS_DIR, webSnapshotDir } from './web-snapshot.ts';

/** The session cookies the web app sets (web/src/lib/server/session.ts). */
export const USER_COOKIE = 'hero_session';
export const ADMIN_COOKIE = 'hero_admin';

/** Every page of the admin panel. */
export const ADMIN_PAGES = [
  '/admin',
  '/admin/users',
  '/admin/payments',
  '/admin/billing',
  '/admin/pool',
  '/admin/allocations',
  '/admin/aggregator',
  '/admin/jobs',
  '/admin/audit',
  '/admin/operators',
] as const;

/** The default pool: one VM with a cockpit link, one without (allocated in id order). */
export const STACK_POOL: PoolVmFixture[] = [
  {
    id: 'vm-a-cockpit',
    name: 'Test VM A',
    host: '10.77.0.11',
    region: 'test-1',
    status: 'AVAILABLE',
    cockpitUrl: 'https://cockpit.test.example/vm-a-cockpit',
  },
  { id: 'vm-b-plain', name: 'Test VM B', host: '10.77.0.12', region: 'test-1', status: 'AVAILABLE' },
];

let snapshot: Promise<string> | undefined;

/**
 * Makes sure web/build/ is current (building it when it is missing or older than its
 * sources), then copies the web process (server/, build/, src/lib/server/) to a snapshot of
 * this vitest run, and answers the snapshot's server/main.ts (relative to the repository).
 *
 * Once per run: the first test file to get here checks, builds and copies under the build lock;
 * the others find the snapshot. The tests' web processes run from the snapshot, so a rebuild
 * of web/build/ while they run (someone's `npm run build -w web`, `npm start` in start.test.ts)
 * cannot pull their files away (a build deletes web/build/ first).
 */
export function ensureWebBuilt(): Promise<string> {
  snapshot ??= (async () => {
    const dir = webSnapshotDir(inject('pgRunId'));
    const ready = path.join(dir, 'ready');
    await withWebBuildLock(async () => {
      if (existsSync(ready)) return;
      const status = await webBuildStatus();
      if (status.stale) {
        const t0 = performance.now();
        console.log(`building the web UI for the browser tests (${status.reason})…`);
        await buildWeb(childEnv({}));
        console.log(`built the web UI in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      }
      if (!existsSync(path.join(REPO_ROOT, 'web', 'build', 'handler.js'))) {
        throw new Error('web/build/handler.js is missing after the build: run `npm run build -w web`');
      }
      mkdirSync(WEB_SNAPSHOTS_DIR, { recursive: true });
      for (const old of readdirSync(WEB_SNAPSHOTS_DIR)) {
        const file = path.join(WEB_SNAPSHOTS_DIR, old);
        if (Date.now() - statSync(file).mtimeMs > 24 * 3600_000)
          rmSync(file, { recursive: true, force: true });
      }
      rmSync(dir, { recursive: true, force: true });
      for (const part of ['server', 'build', path.join('src', 'lib', 'server')]) {
        cpSync(path.join(REPO_ROOT, 'web', part), path.join(dir, part), { recursive: true });
      }
      writeFileSync(ready, `${process.pid}\n`);
    });
    return path.relative(REPO_ROOT, path.join(dir, 'server', 'main.ts'));
  })();
  return snapshot;
}

export interface WebProcess {
  /** http://127.0.0.1:<port>, no trailing slash. */
  url: string;
  port: number;
  process: SpawnedProcess;
  stop(): Promise<number | null>;
}

const POOL_SNAPSHOT = graphql(
  `query PoolSnapshot { pool { id name host region status cockpitUrl allocated } }`,
);

const ALLOCATIONS_OF = graphql(`query AllocationsOf($userId: ID!) { allocations(userId: $userId, first: 100) {
  edges { node { id status cockpitUrl poolVm { id } } } } }`);

/**
 * Starts web/server/main.ts (the run's snapshot of it and of web/build/: ensureWebBuilt) on a
 * free port (WEB_PORT=0) in front of the api at `apiUrl`.
 */
export async function startWeb(apiUrl: string, env: Record<string, string> = {}): Promise<WebProcess> {
  const entry = await ensureWebBuilt();
  const proc = spawnTs(entry, [], {
    HERO_API_URL: apiUrl,
    WEB_PORT: '0',
    WEB_HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    NODE_ENV: 'production',
    WEB_SHUTDOWN_TIMEOUT_MS: '2000',
    ...env,
  });
  const line = await proc.waitForLine(/web listening on/, 60_000);
  const port = (JSON.parse(line) as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, port, process: proc, stop: () => proc.stop(5_000) };
}

export interface Stack {
  db: TestDatabase;
  api: ApiProcess;
  web: WebProcess;
  /** The web UI's base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  pool: PoolVmFixture[];
  /** A new user, signed up through the public API (a live session token). */
  signUp(overrides?: { email?: string; displayName?: string; password?: string }): Promise<SignedUpUser>;
  /** allocateVm as the user (bearer token); answers the allocation's id, throws unless it worked. */
  allocate(token: string): Promise<string>;
  /** An admin session token (adminSignIn with the stack's secret). */
  adminToken(): Promise<string>;
  /** The pool as the admin API lists it (every field), by id. */
  poolSnapshot(): Promise<ResultOf<typeof POOL_SNAPSHOT>['pool']>;
  /** A user's allocations as the admin API lists them. */
  allocationsOf(
    userId: string,
  ): Promise<ResultOf<typeof ALLOCATIONS_OF>['allocations']['edges'][number]['node'][]>;
  /** Sets a user's VM quota through the admin API, with a plan period of 30 days. */
  setQuota(userId: string, vmQuota: number): Promise<void>;
  /**
   * A form post as a browser sends it (urlencoded, Origin header), to the web UI; redirects
   * are not followed. `origin` defaults to the UI's own.
   */
  formPost(
    pathAndQuery: string,
    fields: Record<string, string>,
    options?: { cookie?: string; origin?: string | null },
  ): Promise<Response>;
  /** Output of both processes (for failure messages). */
  logs(): string;
  stop(): Promise<void>;
}

export interface StartStackOptions {
  pool?: PoolVmFixture[];
  /** May be a function of the web UI's URL (known before either process starts: its port is chosen first). */
  apiEnv?: Record<string, string> | ((webUrl: string) => Record<string, string>);
  webEnv?: Record<string, string>;
}

/** A database of its own, the api on it (pool manifest, admin secret) and the web UI in front. */
export async function startStack(options: StartStackOptions = {}): Promise<Stack> {
  const pool = options.pool ?? STACK_POOL;
  // Build (when stale) before the processes start: the build takes both cores for a while.
  await ensureWebBuilt();
  const db = await createTestDatabase();
  let api: ApiProcess | undefined;
  let web: WebProcess | undefined;
  try {
    // The api may need the web UI's address (WEB_PUBLIC_URL, where Stripe Checkout returns).
    const webPort = typeof options.apiEnv === 'function' ? await freePort() : 0;
    const apiEnv =
      typeof options.apiEnv === 'function' ? options.apiEnv(`http://127.0.0.1:${webPort}`) : options.apiEnv;
    api = await startApi({
      databaseUrl: db.url,
      env: {
        VM_POOL_JSON: JSON.stringify(pool),
        // Every browser and test client here is 127.0.0.1: do not let the sign-in limits bite.
        AUTH_RATE_LIMIT_IP: '100000',
        AUTH_RATE_LIMIT_EMAIL: '1000',
        ...apiEnv,
      },
    });
    web = await startWeb(api.url, { WEB_PORT: String(webPort), ...options.webEnv });
  } catch (err) {
    await web?.stop();
    await api?.stop();
    await db.drop().catch(() => {});
    throw err;
  }
  const theApi = api;
  const theWeb = web;

  const stack: Stack = {
    db,
    api: theApi,
    web: theWeb,
    url: theWeb.url,
    pool,
    signUp: (overrides = {}) => signUpUser(theApi, overrides),
    async allocate(token) {
      const result = await allocate(theApi, token);
      if (!('allocation' in result)) throw new Error(`allocateVm failed: ${JSON.stringify(result)}`);
      return result.allocation.id;
    },
    async adminToken() {
      const res = await theApi.gql(ADMIN_SIGN_IN, { secret: theApi.adminSecret });
      const result = res.data?.adminSignIn;
      if (result?.__typename !== 'AdminSignInSuccess')
        throw new Error(`adminSignIn failed: ${JSON.stringify(res)}`);
      return result.session.token;
    },
    async poolSnapshot() {
      const res = await theApi.admin(POOL_SNAPSHOT);
      if (!res.data?.pool) throw new Error(`pool query failed: ${JSON.stringify(res)}`);
      return res.data.pool;
    },
    async allocationsOf(userId) {
      const res = await theApi.admin(ALLOCATIONS_OF, { userId });
      if (!res.data?.allocations) throw new Error(`allocations query failed: ${JSON.stringify(res)}`);
      return res.data.allocations.edges.map((e) => e.node);
    },
    setQuota: (userId, vmQuota) => givePlan(theApi, userId, vmQuota),
    formPost(pathAndQuery, fields, postOptions = {}) {
      const origin = postOptions.origin === undefined ? theWeb.url : postOptions.origin;
      const headers: Record<string, string> = {
        'content-type': 'application/x-www-form-urlencoded',
        // As a browser's form post: SvelteKit answers a request that does not prefer HTML
        // (fetch's default */*) the way it answers use:enhance, as JSON with status 200.
        accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
      };
      if (origin !== null) headers.origin = origin;
      if (postOptions.cookie) headers.cookie = postOptions.cookie;
      return fetch(`${theWeb.url}${pathAndQuery}`, {
        method: 'POST',
        headers,
        body: new URLSearchParams(fields).toString(),
        redirect: 'manual',
      });
    },
    logs() {
      return [
        '--- api ---',
        ...theApi.process.lines.slice(-40),
        '--- web ---',
        ...theWeb.process.lines.slice(-40),
      ].join('\n');
    },
    async stop() {
      await theWeb.stop();
      await theApi.stop();
      await db.drop().catch(() => {});
    },
  };
  return stack;
}

/** `name=value` for a Cookie header. */
export function cookieHeader(name: string, token: string): string {
  return `${name}=${token}`;
}
