/**
 * `npm run bench:allocate`: allocateVm throughput and latency through GraphQL (HTTP → yoga →
 * Pothos → MikroORM) against a raw SQL baseline running the same transaction with `pg`, both
 * under the same concurrency and the same database pool size.
 *
 * Environment (all optional):
 *   BENCH_DATABASE_URL   a PostgreSQL server to use (its database is only used to create and
 *                        drop the bench database); otherwise postgres@127.0.0.1:5432 if it
 *                        answers, otherwise an embedded PostgreSQL started for the run.
 *   BENCH_ALLOCATIONS    measured allocations per path (default 2000)
 *   BENCH_CONCURRENCY    calls in flight (default 50)
 *   BENCH_WARMUP         unmeasured warm-up calls per path (default 500: lets V8 optimize both paths)
 *   BENCH_POOL_MAX       database pool size of both the ORM and the raw pg.Pool (default 10)
 *   BENCH_CPU_PROFILE    a directory: the api process writes a V8 CPU profile (.cpuprofile) there
 *
 * Exits 0 whatever the figures (it is a report); non-zero only when a correctness check fails
 * (a failed call, a VM held by two ACTIVE allocations, pool/allocation bookkeeping mismatch).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { COUNT_ACTIVE, LOCK_USER, PICK_AND_ALLOCATE } from '@hero/core/allocation/allocate-vm';
import { generateToken, hashToken } from '@hero/core/auth/tokens';
import { migrate } from '@hero/core/db/migrate';
import { PG_UNIQUE_VIOLATION } from '@hero/core/db/native-pool';
import { createOrm, type MikroORM } from '@hero/core/db/orm';
import { type PoolVmManifestEntry, parseManifest } from '@hero/core/pool/manifest';
import { PoolProvisioner } from '@hero/core/provisioners/pool-provisioner';
import pg from 'pg';
import { Agent, request } from 'undici';
import {
  adminQuery,
  dropDatabase,
  quoteIdent,
  REPO_ROOT,
  reachableDataRoot,
  withDatabase,
} from '../lib/postgres.ts';
import { type BenchCleanup, intEnv, resolvePgServer, runBench } from './common.ts';

const TARGET_RATIO = 2;
/** Every bench user holds a plan period this long, so each may hold one VM. */
const PLAN_DAYS = 30;
const PROVISIONER_NAME = 'pool';

const ALLOCATE_MUTATION =
  'mutation { allocateVm { __typename ... on AllocateVmSuccess { allocation { id } } ... on Error { code } } }';

// ---------------------------------------------------------------------------------------------
// Settings

interface Settings {
  allocations: number;
  concurrency: number;
  warmup: number;
  poolMax: number;
}

function loadSettings(): Settings {
  return {
    allocations: intEnv('BENCH_ALLOCATIONS', 2000, 1),
    concurrency: intEnv('BENCH_CONCURRENCY', 50, 1),
    warmup: intEnv('BENCH_WARMUP', 500, 0),
    poolMax: intEnv('BENCH_POOL_MAX', 10, 1),
  };
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL server and the bench database

// ---------------------------------------------------------------------------------------------
// Fixtures

interface BenchUser {
  id: string;
  token: string;
}

/**
 * The pool (through the real manifest parser and pool refresh) and `count` users with quota 1,
 * each with a billing row and an API token, created set-based.
 */
async function seed(
  orm: MikroORM,
  sql: pg.Pool,
  count: number,
): Promise<{ users: BenchUser[]; manifest: PoolVmManifestEntry[] }> {
  const width = String(count).length;
  const manifest = Array.from({ length: count }, (_, i) => {
    const n = String(i + 1).padStart(width, '0');
    return {
      id: `bench-vm-${n}`,
      host: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      cockpitUrl: `https://bench-vm-${n}.example.test:9090/`,
    };
  });
  const provisioner = new PoolProvisioner();
  const parsed = parseManifest(manifest);
  await provisioner.refreshPool(orm.em.fork(), parsed);

  const users: BenchUser[] = Array.from({ length: count }, () => ({
    id: randomUUID(),
    token: generateToken(),
  }));
  await sql.query(
    `insert into users (id, email, display_name, vm_quota, vm_quota_period_end)
     select u.id, 'bench-' || u.n || '@example.test', 'Bench user ' || u.n, 1,
            now() + make_interval(days => $2)
       from unnest($1::uuid[]) with ordinality as u(id, n)`,
    [users.map((u) => u.id), PLAN_DAYS],
  );
  await sql.query(
    `insert into api_token (user_id, name, token_hash)
     select u.id, 'bench', u.hash from unnest($1::uuid[], $2::text[]) as u(id, hash)`,
    [users.map((u) => u.id), users.map((u) => hashToken(u.token))],
  );
  await sql.query(
    `insert into billing (user_id, credit_balance_cents, currency) select id, 0, 'EUR' from users`,
  );
  await sql.query('vacuum analyze users, api_token, billing, pool_vm, vm_allocation');
  return { users, manifest: parsed };
}

/** Back to "every VM free, no allocation", with no dead rows left over for the next path. */
async function resetAllocations(sql: pg.Pool): Promise<void> {
  await sql.query('truncate vm_allocation, allocation_extension');
  await sql.query('update pool_vm set active_allocation_id = null where active_allocation_id is not null');
  await sql.query('vacuum analyze users, pool_vm, vm_allocation');
}

/** Correctness after a run: returns the problems found (empty = fine). */
async function checkAllocations(sql: pg.Pool, expectedActive: number): Promise<string[]> {
  const problems: string[] = [];
  const doubles = await sql.query<{ pool_vm_id: string; n: number }>(
    `select pool_vm_id, count(*)::int as n from vm_allocation where status = 'ACTIVE'
      group by pool_vm_id having count(*) > 1 limit 5`,
  );
  for (const row of doubles.rows) problems.push(`pool VM ${row.pool_vm_id} has ${row.n} ACTIVE allocations`);
  const [counts] = (
    await sql.query<{
      active: number;
      users: number;
      vms: number;
      held: number;
      consistent: number;
      over: number;
    }>(
      `select (select count(*)::int from vm_allocation where status = 'ACTIVE') as active,
              (select count(distinct user_id)::int from vm_allocation where status = 'ACTIVE') as users,
              (select count(distinct pool_vm_id)::int from vm_allocation where status = 'ACTIVE') as vms,
              (select count(*)::int from pool_vm where active_allocation_id is not null) as held,
              (select count(*)::int from pool_vm p join vm_allocation a
                  on a.id = p.active_allocation_id and a.pool_vm_id = p.id and a.status = 'ACTIVE') as consistent,
              (select count(*)::int from (select user_id from vm_allocation where status = 'ACTIVE'
                  group by user_id having count(*) > 1) x) as over`,
    )
  ).rows;
  if (counts.active !== expectedActive)
    problems.push(`expected ${expectedActive} ACTIVE allocations, found ${counts.active}`);
  if (counts.vms !== counts.active)
    problems.push(`${counts.active} ACTIVE allocations on only ${counts.vms} distinct VMs`);
  if (counts.users !== counts.active)
    problems.push(`${counts.active} ACTIVE allocations for only ${counts.users} distinct users`);
  if (counts.over > 0) problems.push(`${counts.over} users are over their quota of 1`);
  if (counts.held !== counts.active || counts.consistent !== counts.active) {
    problems.push(
      `pool_vm.active_allocation_id out of step: ${counts.held} VMs held, ${counts.consistent} pointing at their ACTIVE allocation, ${counts.active} ACTIVE allocations`,
    );
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// The api, as its own process (what `npm start` and docker compose run)

interface ApiProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Only what the api needs: nothing of the caller's own configuration leaks into it. */
function apiEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return {
    ...env,
    API_HOST: '127.0.0.1',
    API_PORT: '0',
    LOG_LEVEL: 'info',
    NODE_ENV: 'production',
    ...extra,
  };
}

/** BENCH_CPU_PROFILE=<dir>: the api process writes a V8 CPU profile there when it stops. */
function profileArgs(): string[] {
  const dir = process.env.BENCH_CPU_PROFILE;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(dir)}`] : [];
}

async function startApiProcess(extra: Record<string, string>): Promise<ApiProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [...profileArgs(), '--import', 'tsx', path.join(REPO_ROOT, 'api/src/main.ts')],
    { cwd: REPO_ROOT, env: apiEnv(extra), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output: string[] = [];
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const port = await new Promise<number>((resolve, reject) => {
    let rest = '';
    const onData = (chunk: Buffer) => {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (output.length < 200) output.push(line);
        if (!line.includes('api listening')) continue;
        try {
          resolve((JSON.parse(line) as { port: number }).port);
        } catch {
          reject(new Error(`unexpected api start-up line: ${line}`));
        }
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    const timer = setTimeout(
      () => reject(new Error(`api did not start in 60s:\n${output.join('\n')}`)),
      60_000,
    );
    exited.then(([code]) => {
      clearTimeout(timer);
      reject(new Error(`api exited (${code}) before listening:\n${output.slice(-20).join('\n')}`));
    });
    child.once('error', reject);
  }).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  // Past start-up the api logs only warnings and errors; keep the pipes drained.
  child.stdout?.resume();
  child.stderr?.resume();
  return { url: `http://127.0.0.1:${port}`, pid: child.pid ?? 0, stop };
}

// ---------------------------------------------------------------------------------------------
// Load driver

interface RunResult {
  calls: number;
  failures: string[];
  seconds: number;
  latenciesMs: number[];
  /** CPU time the process doing the work spent during the run. */
  cpuMs: number;
}

/** Cumulative CPU time (user + system) of this process, in ms. */
const ownCpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** Cumulative CPU time (user + system) of another process, from /proc (Linux), in ms. */
function processCpuMs(pid: number): () => number {
  const ticksPerSecond = 100; // USER_HZ, 100 on Linux
  return () => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
  };
}

/** Runs `call(i)` for i in [0, count) with `concurrency` calls in flight, timing each one. */
async function drive(
  count: number,
  concurrency: number,
  call: (i: number) => Promise<void>,
  cpuMs: () => number,
): Promise<RunResult> {
  const latenciesMs: number[] = [];
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const started = performance.now();
      try {
        await call(i);
        latenciesMs.push(performance.now() - started);
      } catch (err) {
        failures.push(`call ${i}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  };
  const started = performance.now();
  const cpuBefore = cpuMs();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return {
    calls: count,
    failures,
    seconds: (performance.now() - started) / 1000,
    latenciesMs,
    cpuMs: cpuMs() - cpuBefore,
  };
}

interface GraphQLAllocateResponse {
  data?: { allocateVm?: { __typename: string; allocation?: { id: string }; code?: string } | null } | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

function graphqlCaller(url: string, agent: Agent, users: BenchUser[]): (i: number) => Promise<void> {
  const body = JSON.stringify({ query: ALLOCATE_MUTATION });
  return async (i) => {
    const res = await request(url, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${users[i].token}` },
      body,
    });
    const json = (await res.body.json()) as GraphQLAllocateResponse;
    if (res.statusCode !== 200 || json.errors?.length) {
      const first = json.errors?.[0];
      throw new Error(
        `HTTP ${res.statusCode}: ${first ? `${first.extensions?.code ?? ''} ${first.message}` : 'no errors'}`,
      );
    }
    const result = json.data?.allocateVm;
    if (result?.__typename !== 'AllocateVmSuccess' || !result.allocation?.id) {
      throw new Error(`allocateVm returned ${result?.__typename ?? 'nothing'} ${result?.code ?? ''}`.trim());
    }
  };
}

const MAX_ATTEMPTS = 3;

/**
 * What one allocateVm request does, statement for statement, with `pg` directly: the bearer
 * token lookup (api/src/http/context.ts), then the allocateVm transaction
 * (core/src/allocation/allocate-vm.ts), the same statements: lock the user, count their ACTIVE
 * allocations, then one statement that locks a free VM (SKIP LOCKED), inserts the allocation and
 * points the VM at it. Retries on the one-active-per-VM index like the api does.
 */
async function rawAllocate(sql: pg.Pool, token: string): Promise<string> {
  const found = await sql.query<{ user_id: string }>(
    `select t.user_id from api_token t join users u on u.id = t.user_id
      where t.token_hash = $1 and t.revoked_at is null and (t.expires_at is null or t.expires_at > now())
        and u.status = 'active'`,
    [hashToken(token)],
  );
  const userId = found.rows[0]?.user_id;
  if (!userId) throw new Error('UNAUTHENTICATED');
  for (let attempt = 1; ; attempt++) {
    const client = await sql.connect();
    try {
      await client.query('begin');
      const userRows = await client.query<{
        vm_quota: number;
        vm_quota_period_end: Date | null;
        status: string;
        email_verified: boolean;
      }>(LOCK_USER, [userId]);
      const user = userRows.rows[0];
      if (!user) throw new Error(`user ${userId} not found`);
      if (user.status !== 'active') throw new Error('ACCOUNT_NOT_ACTIVE');
      if (!user.email_verified) throw new Error('EMAIL_NOT_VERIFIED');
      const now = new Date();
      const activeRows = await client.query<{ n: number; balance_cents: string }>(COUNT_ACTIVE, [userId]);
      const active = activeRows.rows[0].n;
      const periodEnd = user.vm_quota_period_end;
      if (!periodEnd || periodEnd.getTime() <= now.getTime()) throw new Error('NO_ACTIVE_PLAN');
      if (Number(activeRows.rows[0].balance_cents) < 0) throw new Error('BALANCE_NEGATIVE');
      if (active >= user.vm_quota) throw new Error('QUOTA_EXCEEDED');
      const id = randomUUID();
      const expiresAt = periodEnd;
      const inserted = await client.query<{ id: string }>(PICK_AND_ALLOCATE, [
        id,
        userId,
        PROVISIONER_NAME,
        now,
        expiresAt,
      ]);
      if (!inserted.rows[0]) throw new Error('POOL_EXHAUSTED');
      await client.query('commit');
      return inserted.rows[0].id;
    } catch (err) {
      await client.query('rollback').catch(() => {});
      if ((err as { code?: string }).code === PG_UNIQUE_VIOLATION && attempt < MAX_ATTEMPTS) continue;
      throw err;
    } finally {
      client.release();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Report

interface Stats {
  path: string;
  calls: number;
  perSecond: number;
  p50: number;
  p99: number;
  cpuPerCall: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function stats(pathName: string, run: RunResult): Stats {
  const sorted = [...run.latenciesMs].sort((a, b) => a - b);
  return {
    path: pathName,
    calls: run.calls,
    perSecond: run.latenciesMs.length / run.seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    cpuPerCall: run.cpuMs / run.calls,
  };
}

function printTable(rows: Stats[]): void {
  const header = ['path', 'calls', 'allocations/s', 'p50 ms', 'p99 ms', 'CPU ms/call'];
  const lines = rows.map((r) => [
    r.path,
    String(r.calls),
    r.perSecond.toFixed(1),
    r.p50.toFixed(2),
    r.p99.toFixed(2),
    r.cpuPerCall.toFixed(2),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c].length)));
  const fmt = (cells: string[]) =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  console.log(fmt(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const line of lines) console.log(fmt(line));
}

// ---------------------------------------------------------------------------------------------

async function main(cleanup: BenchCleanup): Promise<number> {
  const settings = loadSettings();
  const totalUsers = settings.allocations + settings.warmup;
  const step = (label: string) => console.log(`· ${label}`);
  const setupStarted = performance.now();

  const server = await resolvePgServer();
  cleanup.deferServerStop(server.stop);
  const dbName = `hero_bench_${Date.now()}`;
  await adminQuery(server.adminUrl, `create database ${quoteIdent(dbName)}`);
  cleanup.deferDrop(() => dropDatabase(server.adminUrl, dbName));
  const databaseUrl = withDatabase(server.adminUrl, dbName);
  step(`database ${dbName} on ${server.description}`);

  const orm = await createOrm({ databaseUrl, poolMax: settings.poolMax });
  cleanup.defer(() => orm.close(true));
  await migrate(orm);

  const sql = new pg.Pool({ connectionString: databaseUrl, max: settings.poolMax });
  // Idle connections ended by a drop on interrupt must not crash the process.
  sql.on('error', () => {});
  cleanup.defer(() => sql.end());

  const { users, manifest } = await seed(orm, sql, totalUsers);
  const warmupUsers = users.slice(0, settings.warmup);
  const measuredUsers = users.slice(settings.warmup);
  step(
    `seeded ${totalUsers} pool VMs and ${totalUsers} users (quota 1) in ${((performance.now() - setupStarted) / 1000).toFixed(1)}s`,
  );
  step(
    `${settings.allocations} measured + ${settings.warmup} warm-up allocations per path, ${settings.concurrency} in flight, database pool size ${settings.poolMax} (ORM and pg.Pool)`,
  );

  const poolFile = path.join(reachableDataRoot(), `${dbName}-pool.json`);
  await writeFile(poolFile, JSON.stringify(manifest));
  cleanup.defer(() => rm(poolFile, { force: true }));
  const api = await startApiProcess({
    DATABASE_URL: databaseUrl,
    ADMIN_SECRET: randomBytes(24).toString('hex'),
    VM_POOL_FILE: poolFile,
    DB_POOL_MAX: String(settings.poolMax),
  });
  cleanup.defer(api.stop);
  const url = `${api.url}/graphql`;
  const apiCpu = processCpuMs(api.pid);
  step(`api process (api/src/main.ts, pid ${api.pid}) at ${api.url}`);
  const agent = new Agent({ connections: settings.concurrency, pipelining: 1 });
  cleanup.defer(() => agent.close());

  const problems: string[] = [];
  const results: Stats[] = [];

  // GraphQL path.
  const warmGraphql = await drive(
    warmupUsers.length,
    settings.concurrency,
    graphqlCaller(url, agent, warmupUsers),
    apiCpu,
  );
  problems.push(...warmGraphql.failures.slice(0, 5).map((f) => `graphql warm-up ${f}`));
  const graphqlRun = await drive(
    measuredUsers.length,
    settings.concurrency,
    graphqlCaller(url, agent, measuredUsers),
    apiCpu,
  );
  step(
    `graphql: ${graphqlRun.calls} calls in ${graphqlRun.seconds.toFixed(2)}s, ${graphqlRun.failures.length} failed`,
  );
  problems.push(...graphqlRun.failures.slice(0, 10).map((f) => `graphql ${f}`));
  if (graphqlRun.failures.length > 10)
    problems.push(`graphql: …and ${graphqlRun.failures.length - 10} more failures`);
  problems.push(
    ...(
      await checkAllocations(sql, totalUsers - warmGraphql.failures.length - graphqlRun.failures.length)
    ).map((p) => `graphql: ${p}`),
  );
  results.push(stats('graphql', graphqlRun));

  await resetAllocations(sql);

  // Raw SQL baseline.
  const rawCall = (list: BenchUser[]) => async (i: number) => {
    await rawAllocate(sql, list[i].token);
  };
  const warmRaw = await drive(warmupUsers.length, settings.concurrency, rawCall(warmupUsers), ownCpuMs);
  problems.push(...warmRaw.failures.slice(0, 5).map((f) => `raw warm-up ${f}`));
  const rawRun = await drive(measuredUsers.length, settings.concurrency, rawCall(measuredUsers), ownCpuMs);
  step(`raw sql: ${rawRun.calls} calls in ${rawRun.seconds.toFixed(2)}s, ${rawRun.failures.length} failed`);
  problems.push(...rawRun.failures.slice(0, 10).map((f) => `raw ${f}`));
  if (rawRun.failures.length > 10) problems.push(`raw: …and ${rawRun.failures.length - 10} more failures`);
  problems.push(
    ...(await checkAllocations(sql, totalUsers - warmRaw.failures.length - rawRun.failures.length)).map(
      (p) => `raw: ${p}`,
    ),
  );
  results.push(stats('raw sql', rawRun));

  const [gql, raw] = results;
  // Both ratios are graphql/raw: throughput below 1 and latency above 1 mean GraphQL is slower.
  // "Within 2x" means at least half the raw throughput and at most twice the raw p50.
  const throughputRatio = gql.perSecond / raw.perSecond;
  const p50Ratio = gql.p50 / raw.p50;
  const p99Ratio = gql.p99 / raw.p99;
  console.log('');
  console.log(
    `allocateVm, ${settings.allocations} allocations per path, ${settings.concurrency}-way concurrency, database pool size ${settings.poolMax}`,
  );
  printTable(results);
  console.log('');
  console.log(
    `ratio (graphql/raw) throughput: ${throughputRatio.toFixed(2)}x, p50: ${p50Ratio.toFixed(2)}x (p99: ${p99Ratio.toFixed(2)}x)`,
  );
  const pass = throughputRatio >= 1 / TARGET_RATIO && p50Ratio <= TARGET_RATIO;
  console.log(
    `${pass ? 'PASS' : 'FAIL'}: target GraphQL within ${TARGET_RATIO}x of raw SQL ` +
      `(throughput >= ${(1 / TARGET_RATIO).toFixed(2)}x and p50 <= ${TARGET_RATIO.toFixed(2)}x)`,
  );

  if (problems.length > 0) {
    console.error('\nCORRECTNESS CHECKS FAILED:');
    for (const p of problems) console.error(`  - ${p}`);
    return 1;
  }
  console.log('correctness: every call succeeded; no pool VM has two ACTIVE allocations');
  return 0;
}

runBench(main);
