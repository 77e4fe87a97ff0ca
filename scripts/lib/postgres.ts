import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { killOnExit, loadEmbeddedPostgres } from './embedded-postgres.ts';

// One implementation of database administration, shared with the test tiers.
export {
  adminQuery,
  canConnect,
  createDatabaseFromTemplate,
  dropDatabase,
  quoteIdent,
  waitForNoConnections,
  withDatabase,
} from '@hero/core/testing/postgres-admin';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

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
