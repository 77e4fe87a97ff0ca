import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { killOnExit, loadEmbeddedPostgres } from './embedded-postgres.ts';

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

/**
 * Embedded PostgreSQL runs as the `postgres` user when we are root (PostgreSQL refuses root),
 * and that user must traverse every directory down to the checkout: its binaries live in
 * node_modules and its data under .data/. A checkout inside a private directory (a mktemp
 * dir, /root) blocks it, so the test harness and the benchmark grant traverse-only permission (o+x, not read)
 * on exactly the blocking directories, and says which. `npm start` does not do this on its
 * own: it names the directory and the chmod to run instead.
 */
export function ensurePostgresCanReachRepo(): void {
  if (process.getuid?.() !== 0) return;
  const blocked: string[] = [];
  let current = REPO_ROOT;
  for (;;) {
    if ((statSync(current).mode & 0o001) === 0) blocked.push(current);
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const dir of blocked.reverse()) {
    chmodSync(dir, statSync(dir).mode | 0o001);
    console.log(`granted o+x on ${dir} so the postgres user can reach the checkout`);
  }
}

/** Where embedded PostgreSQL data lives in tests: the checkout's .data/, made reachable. */
export function reachableDataRoot(): string {
  ensurePostgresCanReachRepo();
  const dataRoot = path.join(REPO_ROOT, '.data');
  mkdirSync(dataRoot, { recursive: true });
  chmodSync(dataRoot, 0o755);
  return dataRoot;
}

/**
 * A cold embedded PostgreSQL for one run, under `reachableDataRoot()`, deleted on stop.
 */
export async function startEmbeddedPostgres(name: string): Promise<RunningPostgres> {
  const dataRoot = reachableDataRoot();
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
  killOnExit(pgServer);
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

export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

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
