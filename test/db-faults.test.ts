/**
 * The api under database faults and pool pressure:
 * - every backend of its database is terminated (as a restart or a failover does) five times
 *   while payments, allocations and plan purchases run concurrently: afterwards /readyz says 200
 *   again within seconds, each operation works, and every payment the api acknowledged is on the
 *   ledger exactly once;
 * - 150 concurrent admin "run now" calls on a pool of 10 connections: one run of each job, the
 *   others answer ALREADY_RUNNING or DATABASE_BUSY within seconds, and the api serves users on;
 * - a database that stops answering: /readyz says 503 within its bound, and an api that stays
 *   unready exits so that its supervisor restarts it.
 */
import { createServer, type Server, connect as tcpConnect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import {
  ALLOCATE_VM,
  createUser,
  PURCHASE_PLAN,
  poolOf,
  RECORD_PAYMENT,
  recordPayment,
  type TestUser,
} from './support/factories.ts';
import { graphql } from './support/graphql.ts';
import { freePort } from './support/process.ts';
import { createBareRepo } from './support/usage.ts';

const PLANS = { plans: [{ code: 'unit', name: 'Unit', vmQuota: 1, periodDays: 30, priceCents: 100 }] };
const RELEASE = graphql(`mutation($id: ID!) { releaseAllocation(id: $id) { __typename } }`);
const LOOPS_PER_OPERATION = 20;
const TERMINATIONS = 5;
const RECOVERY_WITHIN_MS = 10_000;

let db: TestDatabase;
let api: ApiProcess;
let users: TestUser[];

/** Cuts every connection to the test database but this one (pg_terminate_backend). */
async function terminateBackends(): Promise<number> {
  const rows = await db.query<{ n: number }>(
    `select count(*)::int as n from (
       select pg_terminate_backend(pid) from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid()) t`,
  );
  return rows[0].n;
}

async function readyStatus(): Promise<number> {
  try {
    const res = await fetch(`${api.url}/readyz`, { signal: AbortSignal.timeout(3000) });
    await res.body?.cancel();
    return res.status;
  } catch {
    return 0;
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  // The test's own pool is cut too: its idle clients' errors are expected here.
  db.sql.on('error', () => {});
  api = await startApi({
    databaseUrl: db.url,
    env: {
      VM_POOL_JSON: JSON.stringify(poolOf(LOOPS_PER_OPERATION * 2, 'fault')),
      PLANS_JSON: JSON.stringify(PLANS),
      DB_POOL_MAX: '10',
    },
  });
  users = await Promise.all(
    Array.from({ length: LOOPS_PER_OPERATION }, (_, i) => createUser(api, { email: `fault-${i}@test.dev` })),
  );
  for (const user of users) await recordPayment(api, user.id, 1_000_000);
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

describe('database connections terminated under load', () => {
  it('recovers within seconds; every acknowledged payment is on the ledger exactly once', async () => {
    const acknowledged: string[] = [];
    const answers = { ok: 0, failed: 0 };
    /** What the failed answers said: a cut connection is a 503 to retry, never an internal error. */
    const failures = new Set<string>();
    const failed = (res: { errors?: { extensions?: { code?: string } }[] }) => {
      answers.failed++;
      failures.add(res.errors?.[0]?.extensions?.code ?? 'no error code');
    };
    let running = true;
    let seq = 0;

    const paymentLoop = async (user: TestUser) => {
      while (running) {
        const providerRef = `fault-pay-${user.id}-${seq++}`;
        try {
          const res = await api.admin(RECORD_PAYMENT, {
            input: { userId: user.id, amountCents: 7, currency: 'EUR', providerRef },
          });
          if (res.data?.recordPayment?.__typename === 'RecordPaymentSuccess') {
            acknowledged.push(providerRef);
            answers.ok++;
          } else failed(res);
        } catch {
          answers.failed++;
        }
      }
    };
    const allocateLoop = async (user: TestUser) => {
      while (running) {
        try {
          const res = await api.asUser(user.token, ALLOCATE_VM);
          const allocated = res.data?.allocateVm;
          const id = allocated?.__typename === 'AllocateVmSuccess' ? allocated.allocation.id : undefined;
          if (id) await api.asUser(user.token, RELEASE, { id });
          if (res.status === 200) answers.ok++;
          else failed(res);
        } catch {
          answers.failed++;
        }
      }
    };
    const purchaseLoop = async (user: TestUser) => {
      while (running) {
        try {
          const res = await api.asUser(user.token, PURCHASE_PLAN, { code: 'unit', periods: 1 });
          if (res.data?.purchasePlan?.__typename === 'PurchasePlanSuccess') answers.ok++;
          else failed(res);
        } catch {
          answers.failed++;
        }
      }
    };
    const loops = users.flatMap((user) => [paymentLoop(user), allocateLoop(user), purchaseLoop(user)]);

    let terminated = 0;
    for (let i = 0; i < TERMINATIONS; i++) {
      await sleep(700);
      terminated += await terminateBackends();
    }
    const lastTermination = performance.now();
    // Some connections were in use each time: the cuts hit live traffic.
    expect(terminated).toBeGreaterThan(TERMINATIONS);

    // Ready again within the bound, while the loops still run.
    let ready = 0;
    while (performance.now() - lastTermination < RECOVERY_WITHIN_MS) {
      ready = await readyStatus();
      if (ready === 200) break;
      await sleep(200);
    }
    expect(ready).toBe(200);
    running = false;
    await Promise.all(loops);
    const okBefore = answers.ok;
    expect(
      [...failures].filter((code) => code !== 'DATABASE_UNAVAILABLE' && code !== 'DATABASE_BUSY'),
    ).toEqual([]);

    // Each operation works afterwards.
    const user = users[0];
    const payment = await api.admin(RECORD_PAYMENT, {
      input: { userId: user.id, amountCents: 7, currency: 'EUR', providerRef: 'fault-pay-after' },
    });
    expect(payment.data.recordPayment.__typename).toBe('RecordPaymentSuccess');
    acknowledged.push('fault-pay-after');
    const purchase = await api.asUser(user.token, PURCHASE_PLAN, { code: 'unit', periods: 1 });
    expect(purchase.data.purchasePlan.__typename).toBe('PurchasePlanSuccess');
    const allocation = await api.asUser(users[1].token, ALLOCATE_VM);
    expect(allocation.status).toBe(200);
    expect(allocation.errors).toBeUndefined();
    expect(performance.now() - lastTermination).toBeLessThan(RECOVERY_WITHIN_MS + 15_000);

    // Every acknowledged payment: one payment row, one PAYMENT ledger row.
    const rows = await db.query<{ provider_ref: string; payments: number; ledger: number }>(
      `select p.provider_ref, count(distinct p.id)::int as payments, count(l.id)::int as ledger
         from payment_event p
         left join ledger_entry l on l.kind = 'PAYMENT' and l.reference = p.id::text
        where p.provider_ref = any($1::text[])
        group by p.provider_ref`,
      [acknowledged],
    );
    expect(rows).toHaveLength(acknowledged.length);
    expect(rows.filter((r) => r.payments !== 1 || r.ledger !== 1)).toEqual([]);
    // And every balance is still the sum of its ledger.
    const drift = await db.query(
      `select b.user_id from billing b
         left join (select user_id, sum(amount_cents) as s from ledger_entry group by user_id) l using (user_id)
        where b.credit_balance_cents <> coalesce(l.s, 0)`,
    );
    expect(drift).toEqual([]);
    console.log(
      `db faults: ${terminated} backends terminated in ${TERMINATIONS} rounds; ${okBefore} operations answered ok, ${answers.failed} failed during the cuts; ${acknowledged.length} payments acknowledged`,
    );
  }, 120_000);
});

describe('150 concurrent "run now" calls on a pool of 10', () => {
  it('one run of each job; the others answer ALREADY_RUNNING or DATABASE_BUSY within seconds; users are served', async () => {
    const own = await createTestDatabase();
    const repo = await createBareRepo();
    const storm = await startApi({
      databaseUrl: own.url,
      env: {
        VM_POOL_JSON: JSON.stringify(poolOf(5, 'storm')),
        USAGE_SOURCE: 'git',
        BILLING_GIT_URL: repo.dir,
        DB_POOL_MAX: '10',
        DB_POOL_TIMEOUT_MS: '3000',
      },
    });
    try {
      const user = await createUser(storm, { email: 'storm@test.dev' });
      const documents = {
        reconcileBalancesNow: graphql('mutation { reconcileBalancesNow { usersChecked } }'),
        autoReleaseNow: graphql('mutation { autoReleaseNow { rowsExamined } }'),
        aggregateNow: graphql('mutation { aggregateNow { nodesSeen } }'),
      };
      const calls = Object.keys(documents) as (keyof typeof documents)[];
      const started = performance.now();
      const answers = await Promise.all(
        calls.flatMap((call) =>
          Array.from({ length: 50 }, async () => {
            const res = await storm.admin(documents[call]);
            return {
              call,
              status: res.status,
              code: res.errors?.[0]?.extensions?.code ?? 'OK',
            };
          }),
        ),
      );
      const elapsedMs = performance.now() - started;
      expect(elapsedMs).toBeLessThan(30_000);
      for (const call of calls) {
        const mine = answers.filter((a) => a.call === call);
        const codes = new Set(mine.map((a) => a.code));
        // Nothing else: no internal error, no hang.
        expect([...codes].filter((c) => !['OK', 'ALREADY_RUNNING', 'DATABASE_BUSY'].includes(c))).toEqual([]);
        expect(mine.filter((a) => a.code === 'OK').length).toBeGreaterThanOrEqual(1);
      }
      // Never two runs of a job at once: each job's runs are disjoint in time.
      const runs = await own.query<{ job: string; started_at: Date; finished_at: Date }>(
        "select job, started_at, finished_at from job_run where status = 'SUCCEEDED' order by job, started_at",
      );
      for (let i = 1; i < runs.length; i++) {
        if (runs[i].job !== runs[i - 1].job) continue;
        expect(runs[i].started_at.getTime()).toBeGreaterThanOrEqual(runs[i - 1].finished_at.getTime());
      }
      // A user's request right after is served.
      const me = await storm.asUser(user.token, graphql('{ me { id } }'));
      expect(me.status).toBe(200);
      expect(me.data.me.id).toBe(user.id);
      expect((await fetch(`${storm.url}/readyz`)).status).toBe(200);
      console.log(
        `run-now storm: ${answers.length} calls answered in ${(elapsedMs / 1000).toFixed(1)} s: ` +
          JSON.stringify(
            Object.groupBy(answers, (a) => `${a.call} ${a.code}`),
            (_k, v) => (Array.isArray(v) ? v.length : v),
          ),
      );
    } finally {
      await storm.stop();
      await repo.remove();
      await own.drop();
    }
  }, 120_000);
});

/** A TCP proxy to the database that can stop passing bytes: a server or network that hangs. */
async function freezableProxy(target: URL): Promise<{ url: string; freeze(): void; close(): void }> {
  let frozen = false;
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(Number(target.port || 5432), target.hostname);
    client.on('data', (chunk) => frozen || upstream.write(chunk));
    upstream.on('data', (chunk) => frozen || client.write(chunk));
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ]) {
      a.on('error', () => b.destroy());
      a.on('close', () => b.destroy());
    }
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    freeze: () => {
      frozen = true;
    },
    close: () => server.close(),
  };
}

describe('a database that stops answering', () => {
  it('/readyz says 503 within its bound, and an api that stays unready exits 1', async () => {
    const own = await createTestDatabase();
    const proxy = await freezableProxy(new URL(own.url));
    const hung = await startApi({
      databaseUrl: proxy.url,
      env: { VM_POOL_JSON: '[]', API_UNREADY_EXIT_MS: '4000', DB_POOL_TIMEOUT_MS: '1000' },
    });
    try {
      expect((await fetch(`${hung.url}/readyz`)).status).toBe(200);
      proxy.freeze();
      const asked = performance.now();
      const res = await fetch(`${hung.url}/readyz`, { signal: AbortSignal.timeout(10_000) });
      const answeredMs = performance.now() - asked;
      expect(res.status).toBe(503);
      expect((await res.json()).database).toMatch(/no answer through the connection pool within 2000 ms/);
      expect(answeredMs).toBeLessThan(5_000);
      // Unready for API_UNREADY_EXIT_MS: the process ends itself, exit 1, saying why.
      const code = await Promise.race([hung.process.exited, sleep(30_000).then(() => 'still running')]);
      expect(code).toBe(1);
      expect(hung.process.lines.join('\n')).toMatch(/unready for \d+ s .*exiting/);
      expect(hung.process.lines.some((l) => l.includes('"level":50'))).toBe(false);
    } finally {
      await hung.stop();
      proxy.close();
      await own.drop();
    }
  }, 90_000);
});

describe('a pool with no connection free', () => {
  it('answers DATABASE_BUSY (503) after DB_POOL_TIMEOUT_MS instead of waiting for ever', async () => {
    const own = await createTestDatabase();
    const busy = await startApi({
      databaseUrl: own.url,
      env: { VM_POOL_JSON: '[]', DB_POOL_MAX: '2', DB_POOL_TIMEOUT_MS: '1000', API_UNREADY_EXIT_MS: '0' },
    });
    const holder = await own.sql.connect();
    try {
      const user = await createUser(busy, { email: 'busy@test.dev' });
      // Payments wait on the locked billing table, each holding one of the two pool connections.
      await holder.query('begin');
      await holder.query('lock table billing in access exclusive mode');
      const stuck = [1, 2].map((n) =>
        busy.admin(RECORD_PAYMENT, {
          input: { userId: user.id, amountCents: 5, currency: 'EUR', providerRef: `busy-${n}` },
        }),
      );
      await sleep(300);
      const res = await busy.admin(graphql('{ pool { id } }'));
      expect(res.status).toBe(503);
      expect(res.errors?.[0]?.extensions?.code).toBe('DATABASE_BUSY');
      expect(res.errors?.[0]?.message).toMatch(/no connection came free in time/);
      await holder.query('rollback');
      // Once the lock goes, the waiting payments complete and the api serves again.
      for (const answer of await Promise.all(stuck))
        expect(answer.data.recordPayment.__typename).toBe('RecordPaymentSuccess');
      expect((await busy.admin(graphql('{ pool { id } }'))).status).toBe(200);
      expect(busy.process.lines.some((l) => l.includes('"level":50'))).toBe(false);
    } finally {
      holder.release();
      await busy.stop();
      await own.drop();
    }
  }, 60_000);
});
