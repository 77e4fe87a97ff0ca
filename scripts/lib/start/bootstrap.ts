/**
 * What `npm start` prepares before the children start: free ports, the data directory, the
 * admin secret, the usage source, the migrations, the pool, and a current web UI build.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { migrateDatabase } from '@hero/core/db/migrate';
import { redactUrl } from '@hero/core/usage/sources/usage-source';
import {
  childBaseEnv,
  describeDatabaseError,
  REPO_ROOT,
  redactDatabaseUrl,
  type StartConfig,
} from '../../config.ts';
import {
  BillingRepoError,
  ensureBareRepository,
  GitNotFoundError,
  operatorUsageSource,
  shellWord,
} from '../billing-repo.ts';
import { loadStarterPool, STARTER_POOL_FILE } from '../starter-pool.ts';
import { ensureWebBuild, WebBuildError } from '../web-build.ts';
import { displayPath, elapsed, StartError, say, warn } from './output.ts';
import { readOrCreateSecret } from './secret-file.ts';

/** Refuses to start when API_PORT or WEB_PORT is taken, with one line per port. */
export async function checkPortsFree(config: StartConfig): Promise<void> {
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

export async function ensureDataDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o711 });
}

export interface AdminSecret {
  value: string;
  /** What to print about it (in the ready banner). */
  describe: string;
  /** What the example curl puts in the header. */
  forCurl: string;
  /** The variable that hands it to `hero-admin`, as a shell word (none: the operator's own). */
  forCli?: string;
}

/** The operator's ADMIN_SECRET(_FILE), else DATA_DIR/admin-secret, created on first run. */
export async function resolveAdminSecret(config: StartConfig): Promise<AdminSecret> {
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

export interface UsageSetup {
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
export async function resolveUsageSource(config: StartConfig): Promise<UsageSetup> {
  const baseEnv = childBaseEnv();
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

/** Migrates here, once, so that the api and the workers start with MIGRATE_ON_START=0. */
export async function applyMigrations(databaseUrl: string): Promise<void> {
  const started = performance.now();
  let applied: string[];
  try {
    applied = await migrateDatabase(databaseUrl);
  } catch (err) {
    throw new StartError(`migration ${describeDatabaseError(err, redactDatabaseUrl(databaseUrl))}`);
  }
  say(
    applied.length
      ? `applied ${applied.length} migration(s) in ${elapsed(started)}: ${applied.join(', ')}`
      : `database schema up to date (${elapsed(started)})`,
  );
}

export interface PoolSetup {
  /** Variables to set in the api's and the workers' environment. */
  env: Record<string, string>;
  /** Banner text. */
  describe: string;
}

/**
 * No pool configured and no demo provisioner: the pool provisioner managed through refreshPool,
 * with examples/pool.json loaded into the pool while it is empty (the first start).
 */
export async function preparePool(config: StartConfig, databaseUrl: string): Promise<PoolSetup> {
  if (config.VM_POOL_FILE)
    return { env: {}, describe: `pool provisioner, from VM_POOL_FILE=${config.VM_POOL_FILE}` };
  if (config.VM_POOL_JSON) return { env: {}, describe: 'pool provisioner, from VM_POOL_JSON' };
  if (config.PROVISIONER_DEMO) {
    return {
      env: {},
      describe: 'demo provisioner (PROVISIONER_DEMO=1: fabricated VMs demo-vm-01…; no pool refresh)',
    };
  }
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
  return {
    env: { VM_POOL_JSON: '[]' },
    describe:
      `pool provisioner, refreshed from Admin → Pool or \`hero-admin pool refresh --file <manifest>\`` +
      ` (first start: ${displayPath(STARTER_POOL_FILE)})`,
  };
}

/**
 * The web UI runs from its production build: rebuilds it when a source changed since (no web UI
 * yet: nothing to build). Returns quietly when `signal` aborts the build (everything is stopping).
 */
export async function ensureWebUiBuilt(signal: AbortSignal): Promise<void> {
  if (!existsSync(path.join(REPO_ROOT, 'web/server/main.ts'))) return;
  try {
    const build = await ensureWebBuild(
      childBaseEnv(),
      (reason) => say(`building the web UI… (${reason})`),
      signal,
    );
    if (build.built) say(`built the web UI in ${(build.ms / 1000).toFixed(1)} s`);
  } catch (err) {
    if (signal.aborted) return;
    if (err instanceof WebBuildError) throw new StartError(err.message);
    throw err;
  }
}
