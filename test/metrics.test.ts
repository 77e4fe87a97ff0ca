import { createOrm, type MikroORM } from '@hero/core/db/orm';
import { JobRunCounter } from '@hero/core/metrics/job-run-counts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { allocate, type PoolVmFixture, recordPayment, signUpUser } from './support/factories.ts';
import { waitFor } from './support/fake-deployer.ts';
import { type FakeForge, startFakeForge } from './support/forge/fake-forge.ts';
import { graphql } from './support/graphql.ts';
import { parseMetrics, type Scrape, scrape } from './support/metrics.ts';
import { type SpawnedProcess, spawnTs } from './support/process.ts';
import {
  type BareRepo,
  createBareRepo,
  createUsageUsers,
  seedUsage,
  type UsageUser,
} from './support/usage.ts';
import { startWeb, type WebProcess } from './support/web.ts';

/**
 * GET /metrics on the api, a worker and the web: the listed series are there, and they move
 * when the test acts (allocate, pay, release, run a job, aggregate, load a page).
 */

const POOL: PoolVmFixture[] = [
  { id: 'm-vm-1', name: 'VM 1', status: 'AVAILABLE' },
  { id: 'm-vm-2', name: 'VM 2', status: 'AVAILABLE' },
  { id: 'm-vm-3', name: 'VM 3', status: 'AVAILABLE' },
  { id: 'm-vm-4', name: 'VM 4', status: 'MAINTENANCE' },
];

let db: TestDatabase;
let api: ApiProcess;
let repo: BareRepo;
let usageUsers: UsageUser[];
const started: { stop(): Promise<unknown> }[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  repo = await createBareRepo();
  usageUsers = await createUsageUsers(db, 2, 10_000);
  api = await startApi({
    databaseUrl: db.url,
    env: { VM_POOL_JSON: JSON.stringify(POOL), BILLING_GIT_URL: repo.dir, AUTH_RATE_LIMIT_IP: '1000' },
  });
});
afterAll(async () => {
  for (const p of started.reverse()) await p.stop().catch(() => {});
  await api?.stop();
  await repo?.remove();
  await db?.drop().catch(() => {});
});

/** A worker daemon with its health server on a free port. */
async function startWorker(
  job: string,
  env: Record<string, string>,
): Promise<{ url: string; process: SpawnedProcess; stop(): Promise<unknown> }> {
  const proc = spawnTs('workers/src/main.ts', [job], {
    DATABASE_URL: db.url,
    WORKER_HEALTH_PORT: '0',
    WORKER_HEALTH_HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    ...env,
  });
  const handle = { process: proc, stop: () => proc.stop() };
  started.push(handle);
  const line = await proc.waitForLine(/health server listening/, 30_000);
  return { ...handle, url: `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}` };
}

const delta = (before: Scrape, after: Scrape, name: string, labels: Record<string, string> = {}) =>
  after.valueOr(name, labels, 0) - before.valueOr(name, labels, 0);

describe('api GET /metrics', () => {
  it('exposes process metrics and every database-derived series, with bounded labels', async () => {
    const s = await scrape(api.url);
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
    ])
      expect(s.all(name).length, name).toBeGreaterThan(0);
    expect(s.value('hero_metrics_db_up')).toBe(1);
    expect(
      s
        .all('hero_pool_vms')
        .map((x) => x.labels.status)
        .sort(),
    ).toEqual(['allocated', 'free', 'maintenance', 'retired']);
    expect(s.value('hero_pool_vms', { status: 'free' })).toBe(3);
    expect(s.value('hero_pool_vms', { status: 'maintenance' })).toBe(1);
    expect(s.value('hero_allocations_active')).toBe(0);
    expect(s.value('hero_balance_total_cents', { currency: 'EUR' })).toBe(20_000);
    expect(s.value('hero_usage_records_applied')).toBe(0);
    expect(s.value('hero_usage_ignored_files')).toBe(-1);
    expect(s.value('hero_outbox_backlog', { type: 'vm.release' })).toBe(0);
    expect(s.value('hero_outbox_backlog', { type: 'allocation.expiring' })).toBe(0);
    expect(s.value('hero_ledger_drift_users')).toBe(-1);
    expect(s.types.get('hero_graphql_requests_total')).toBe('counter');
    expect(s.types.get('hero_graphql_request_duration_seconds')).toBe('histogram');
    // job_name, never job (Prometheus's own label for the scrape target).
    expect(s.samples.some((x) => 'job' in x.labels)).toBe(false);
  });

  it('allocation, payment and release move the pool, allocation, balance, outbox and request series', async () => {
    const before = await scrape(api.url);
    const user = await signUpUser(api);
    const allocated = await allocate(api, user.token);
    if (!('allocation' in allocated)) throw new Error(JSON.stringify(allocated));
    await recordPayment(api, user.id, 1_234);
    const mid = await scrape(api.url);

    expect(delta(before, mid, 'hero_pool_vms', { status: 'free' })).toBe(-1);
    expect(delta(before, mid, 'hero_pool_vms', { status: 'allocated' })).toBe(1);
    expect(delta(before, mid, 'hero_allocations_active')).toBe(1);
    expect(delta(before, mid, 'hero_balance_total_cents', { currency: 'EUR' })).toBe(1_234);
    expect(delta(before, mid, 'hero_balance_accounts', { currency: 'EUR' })).toBe(1);
    const ok = { type: 'mutation', result: 'success' };
    expect(delta(before, mid, 'hero_graphql_requests_total', { operation: 'signUp', ...ok })).toBe(1);
    expect(delta(before, mid, 'hero_graphql_requests_total', { operation: 'allocateVm', ...ok })).toBe(1);
    expect(delta(before, mid, 'hero_graphql_requests_total', { operation: 'recordPayment', ...ok })).toBe(1);
    const count = { operation: 'allocateVm', type: 'mutation' };
    expect(delta(before, mid, 'hero_graphql_request_duration_seconds_count', count)).toBe(1);
    expect(delta(before, mid, 'hero_graphql_request_duration_seconds_sum', count)).toBeGreaterThan(0);
    expect(delta(before, mid, 'hero_graphql_request_duration_seconds_bucket', { ...count, le: '+Inf' })).toBe(
      1,
    );

    const released = await api.asUser(
      user.token,
      graphql('mutation($id: ID!) { releaseMyAllocation(id: $id) { __typename } }'),
      { id: allocated.allocation.id },
    );
    expect(released.data.releaseMyAllocation.__typename).toBe('ReleaseMyAllocationSuccess');
    const after = await scrape(api.url);
    expect(delta(mid, after, 'hero_outbox_backlog', { type: 'vm.release' })).toBe(1);
    expect(after.value('hero_outbox_oldest_pending_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(delta(mid, after, 'hero_allocations_active')).toBe(-1);
    expect(delta(mid, after, 'hero_pool_vms', { status: 'free' })).toBe(1);
    // The api's own routes: the scrapes themselves and the GraphQL posts.
    expect(delta(mid, after, 'hero_http_requests_total', { route: '/metrics', status: '200' })).toBe(1);
    expect(delta(mid, after, 'hero_http_requests_total', { route: '/graphql', status: '200' })).toBe(1);
  });

  it('labels operations by root field, never by a client-chosen name; refusals and errors are counted', async () => {
    const before = await scrape(api.url);
    await api.gql(graphql('query ClientChosenName_8f3a { __typename }'));
    // Malformed and invalid on purpose: sent as text.
    await api.raw('{ pool { ');
    await api.raw('{ noSuchField }');
    const denied = await api.gql(graphql('{ pool { id } }'));
    expect(denied.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    const after = await scrape(api.url);
    expect(after.text).not.toContain('ClientChosenName');
    expect(
      delta(before, after, 'hero_graphql_requests_total', {
        operation: '__typename',
        type: 'query',
        result: 'success',
      }),
    ).toBe(1);
    expect(
      delta(before, after, 'hero_graphql_requests_total', {
        operation: 'invalid',
        type: 'invalid',
        result: 'invalid',
      }),
    ).toBe(2);
    expect(
      delta(before, after, 'hero_graphql_requests_total', {
        operation: 'pool',
        type: 'query',
        result: 'error',
      }),
    ).toBe(1);
    const operations = new Set(after.all('hero_graphql_requests_total').map((x) => x.labels.operation));
    expect([...operations].every((o) => /^(__\w+|[a-z]\w*)$/.test(o))).toBe(true);
  });

  it('a job run and an aggregation move the job-run, last-success and records-applied series', async () => {
    const before = await scrape(api.url);
    const autoRelease = await api.admin(graphql('mutation { autoReleaseNow { rowsExamined } }'));
    expect(autoRelease.errors).toBeUndefined();
    const gen = await seedUsage(repo.dir, usageUsers, {
      nodes: 2,
      filesPerNode: 2,
      recordsPerFile: 5,
      nodePrefix: 'm',
    });
    const aggregated = await api.admin(graphql('mutation { aggregateNow { recordsApplied } }'));
    expect(aggregated.data.aggregateNow.recordsApplied).toBe(20);
    const after = await scrape(api.url);

    const runs = (job: string) => ({ job_name: job, status: 'SUCCEEDED' });
    expect(delta(before, after, 'hero_job_runs', runs('auto-release'))).toBe(1);
    expect(delta(before, after, 'hero_job_runs', runs('aggregate'))).toBe(1);
    expect(after.value('hero_job_runs', { job_name: 'aggregate', status: 'FAILED' })).toBe(0);
    const lastSuccess = after.value('hero_job_last_success_timestamp_seconds', { job_name: 'auto-release' });
    expect(lastSuccess).toBeGreaterThan(
      before.valueOr('hero_job_last_success_timestamp_seconds', { job_name: 'auto-release' }, 0),
    );
    expect(Math.abs(lastSuccess - Date.now() / 1000)).toBeLessThan(60);
    expect(delta(before, after, 'hero_usage_records_applied')).toBe(20);
    expect(delta(before, after, 'hero_usage_files_applied')).toBe(4);
    expect(after.value('hero_usage_nodes')).toBe(2);
    // Every file of the generated repository is a usage file.
    expect(after.value('hero_usage_ignored_files')).toBe(0);
    const debited = [...gen.expected.values()].reduce((a, b) => a + b, 0);
    expect(delta(before, after, 'hero_balance_total_cents', { currency: 'EUR' })).toBe(-debited);
  });
});

describe('worker health server', () => {
  it('GET /metrics: its ticks, process metrics and the same database-derived series as the api', async () => {
    const worker = await startWorker('aggregate', {
      BILLING_GIT_URL: repo.dir,
      AGGREGATE_INTERVAL_MS: '300',
    });
    await waitFor(
      async () =>
        (await scrape(worker.url)).value('hero_worker_ticks_total', {
          job_name: 'aggregate',
          status: 'SUCCEEDED',
        }) >= 1
          ? true
          : null,
      10_000,
    );
    const before = await scrape(worker.url);
    expect(before.all('process_cpu_user_seconds_total').length).toBe(1);
    expect(
      before.value('hero_worker_last_success_timestamp_seconds', { job_name: 'aggregate' }),
    ).toBeGreaterThan(0);
    expect(
      before.value('hero_worker_tick_duration_seconds_count', { job_name: 'aggregate' }),
    ).toBeGreaterThanOrEqual(1);
    const fromApi = await scrape(api.url);
    for (const name of ['hero_usage_records_applied', 'hero_allocations_active'])
      expect(before.value(name), name).toBe(fromApi.value(name));

    // New usage: a later tick of this worker applies it, and both series move. The records are
    // committed before the tick ends (and is counted), so wait for the tick that applied them.
    await seedUsage(repo.dir, usageUsers, { nodes: 1, filesPerNode: 1, recordsPerFile: 7, nodePrefix: 'mw' });
    const after = (await waitFor<Scrape | null>(async () => {
      const s = await scrape(worker.url);
      const applied = s.value('hero_usage_records_applied') - before.value('hero_usage_records_applied');
      const ticked =
        s.value('hero_worker_last_success_timestamp_seconds', { job_name: 'aggregate' }) >
        before.value('hero_worker_last_success_timestamp_seconds', { job_name: 'aggregate' });
      return applied === 7 &&
        ticked &&
        s.value('hero_worker_tick_in_progress', { job_name: 'aggregate' }) === 0
        ? s
        : null;
    }, 10_000)) as Scrape;
    expect(
      delta(before, after, 'hero_worker_ticks_total', { job_name: 'aggregate', status: 'SUCCEEDED' }),
    ).toBeGreaterThan(0);
    expect(
      delta(before, after, 'hero_job_runs', { job_name: 'aggregate', status: 'SUCCEEDED' }),
    ).toBeGreaterThan(0);

    const ready = await fetch(`${worker.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', database: 'ok', billingRepository: 'ok' });
  });

  it('the aggregator /readyz checks the forge: 200 while it answers, 503 with the reason when it is gone', async () => {
    let forge: FakeForge | null = await startFakeForge();
    try {
      const worker = await startWorker('aggregate', {
        USAGE_SOURCE: 'forge',
        FORGE_URL: forge.rootUrl,
        FORGE_TOKEN: forge.token,
        BILLING_REPO: `${forge.owner}/${forge.repo}`,
        FORGE_TIMEOUT_MS: '2000',
        FORGE_RETRIES: '0',
        AGGREGATE_INTERVAL_MS: '600000',
      });
      const ready = await fetch(`${worker.url}/readyz`);
      const readyBody = await ready.json();
      expect(ready.status, JSON.stringify(readyBody)).toBe(200);
      expect(readyBody).toMatchObject({ status: 'ready', database: 'ok', forge: 'ok' });

      await forge.stop();
      forge = null;
      const gone = await fetch(`${worker.url}/readyz`);
      const body = (await gone.json()) as Record<string, string>;
      expect(gone.status).toBe(503);
      expect(body).toMatchObject({ status: 'unavailable', database: 'ok' });
      expect(body.forge).toMatch(/unreachable/);
      // Liveness does not depend on the forge.
      expect((await fetch(`${worker.url}/healthz`)).status).toBe(200);
    } finally {
      await forge?.stop();
    }
  });
});

describe('web GET /metrics', () => {
  let web: WebProcess;
  beforeAll(async () => {
    web = await startWeb(api.url);
    started.push(web);
  }, 180_000);

  it('counts page and asset requests by route id, not by URL, and logs them with pino', async () => {
    const before = await scrape(web.url);
    expect(before.all('process_resident_memory_bytes').length).toBe(1);
    const page = await fetch(`${web.url}/signin?next=%2Fsomewhere`);
    expect(page.status).toBe(200);
    await page.text();
    await (await fetch(`${web.url}/favicon.svg`)).arrayBuffer();
    await (await fetch(`${web.url}/admin/users/some-user-id-123`, { redirect: 'manual' })).arrayBuffer();
    await (await fetch(`${web.url}/no/such/page`)).arrayBuffer();
    const after = await scrape(web.url);

    const get = (route: string, status: string) => ({ method: 'GET', route, status });
    expect(delta(before, after, 'hero_web_requests_total', get('/signin', '200'))).toBe(1);
    expect(delta(before, after, 'hero_web_requests_total', get('static', '200'))).toBe(1);
    expect(delta(before, after, 'hero_web_requests_total', { route: '/admin/(panel)/users/[id]' })).toBe(1);
    expect(delta(before, after, 'hero_web_requests_total', get('unmatched', '404'))).toBe(1);
    expect(delta(before, after, 'hero_web_requests_total', get('/metrics', '200'))).toBe(1);
    expect(
      delta(before, after, 'hero_web_request_duration_seconds_count', { method: 'GET', route: '/signin' }),
    ).toBe(1);
    expect(after.text).not.toContain('some-user-id-123');
    expect(after.text).not.toContain('no/such/page');

    // One JSON access line per request, with the response's request id when it has one.
    const line = await web.process.waitForLine(/"route":"\/signin"/, 5_000);
    const entry = JSON.parse(line) as Record<string, unknown>;
    expect(entry).toMatchObject({ name: 'web', msg: 'request', method: 'GET', path: '/signin', status: 200 });
    expect(typeof entry.level).toBe('number');
    const requestId = page.headers.get('x-request-id');
    expect(requestId).toBeTruthy();
    expect(entry.requestId).toBe(requestId);
  });
});

describe('job-run counts without a full scan per scrape', () => {
  let orm: MikroORM;
  beforeAll(async () => {
    orm = await createOrm({ databaseUrl: db.url, poolMax: 2 });
  });
  afterAll(async () => {
    await orm?.close();
  });

  const insert = async (job: string, status: string) => {
    const [row] = await db.query<{ id: string }>(
      `insert into job_run (job, trigger, host, pid, started_at, finished_at, status)
       values ($1, 'MANUAL', 'test', 1, now(), case when $2 = 'RUNNING' then null else now() end, $2) returning id`,
      [job, status],
    );
    return row.id;
  };
  const exact = async () => {
    const rows = await db.query<{ job: string; status: string; n: number }>(
      `select job, status::text, count(*)::int as n from job_run where job like 'cnt-%' group by job, status`,
    );
    return Object.fromEntries(rows.map((r) => [`${r.job}/${r.status}`, r.n]));
  };
  const counted = async (counter: JobRunCounter) => {
    const totals = await counter.read(orm.em.fork());
    const out: Record<string, number> = {};
    for (const [job, byStatus] of totals.runs)
      for (const [status, n] of byStatus) if (job.startsWith('cnt-') && n > 0) out[`${job}/${status}`] = n;
    return out;
  };

  it('stays exact across reads while runs start, finish and new rows arrive', async () => {
    const counter = new JobRunCounter();
    await insert('cnt-a', 'SUCCEEDED');
    const running = await insert('cnt-a', 'RUNNING');
    expect(await counted(counter)).toEqual(await exact());
    await insert('cnt-b', 'FAILED');
    expect(await counted(counter)).toEqual(await exact());
    // The RUNNING row is now below the watermark: its end must still be seen.
    await insert('cnt-b', 'SKIPPED');
    expect(await counted(counter)).toEqual(await exact());
    await db.query(`update job_run set status = 'SUCCEEDED', finished_at = now() where id = $1`, [running]);
    expect(await counted(counter)).toEqual(await exact());
    const late = await insert('cnt-a', 'RUNNING');
    expect(await counted(counter)).toEqual(await exact());
    expect(await counted(counter)).toEqual(await exact());
    await db.query(`update job_run set status = 'FAILED', finished_at = now() where id = $1`, [late]);
    expect(await counted(counter)).toEqual(await exact());
    expect(await counted(counter)).toEqual({
      'cnt-a/SUCCEEDED': 2,
      'cnt-a/FAILED': 1,
      'cnt-b/FAILED': 1,
      'cnt-b/SKIPPED': 1,
    });
    // A fresh counter (another process) agrees.
    expect(await counted(new JobRunCounter())).toEqual(await counted(counter));
  });
});

describe('exposition parser', () => {
  it('reads labels with escapes and special values', () => {
    const s = parseMetrics('# TYPE x gauge\nx{a="q\\"uote",b="n\\\\l"} 2\ny +Inf\n');
    expect(s.value('x', { a: 'q"uote', b: 'n\\l' })).toBe(2);
    expect(s.value('y')).toBe(Number.POSITIVE_INFINITY);
  });
});
