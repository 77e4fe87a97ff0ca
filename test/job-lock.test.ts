import { createOrm, type MikroORM } from '@hero/core/db/orm';
import { JOB_LOCK_NAMESPACE, runWithJobLock } from '@hero/core/jobs/run-with-job-lock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.ts';

let db: TestDatabase;
let orm: MikroORM;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await createOrm({ databaseUrl: db.url, poolMax: 6 });
});
afterAll(async () => {
  await orm?.close();
  await db?.drop();
});

const lockHolders = async () =>
  (
    await db.query<{ pid: number }>(
      // Other test files run jobs of the same names in their own databases at the same time.
      `select pid from pg_locks
        where locktype = 'advisory' and classid = $1 and objsubid = 2 and granted
          and database = (select oid from pg_database where datname = current_database())`,
      [JOB_LOCK_NAMESPACE],
    )
  ).map((r) => r.pid);
const runsOf = (job: string) => db.query('select * from job_run where job = $1 order by id', [job]);

describe('runWithJobLock', () => {
  it('records RUNNING (visible at once) then SUCCEEDED with the summary; the job runs outside the lock transaction', async () => {
    let during: { runs: any[]; holders: number[]; jobPid: number } | undefined;
    const outcome = await runWithJobLock(orm.em, { job: 'demo', trigger: 'MANUAL' }, async (em) => {
      const [{ pid }] = await em.execute<{ pid: number }[]>('select pg_backend_pid() as pid');
      during = { runs: await runsOf('demo'), holders: await lockHolders(), jobPid: pid };
      return { examined: 3 };
    });
    expect(during?.runs).toMatchObject([
      { status: 'RUNNING', trigger: 'MANUAL', pid: process.pid, finished_at: null },
    ]);
    expect(during?.holders).toHaveLength(1);
    expect(during?.holders).not.toContain(during?.jobPid);

    expect(outcome).toMatchObject({
      status: 'SUCCEEDED',
      job: 'demo',
      trigger: 'MANUAL',
      summary: { examined: 3 },
    });
    const [row] = await runsOf('demo');
    expect(row).toMatchObject({
      id: String(outcome.runId),
      status: 'SUCCEEDED',
      summary: { examined: 3 },
      error: null,
    });
    expect(row.finished_at.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
    expect(await lockHolders()).toEqual([]);
  });

  it('records a thrown error as FAILED without throwing', async () => {
    const outcome = await runWithJobLock(orm.em, { job: 'broken', trigger: 'SCHEDULE' }, async () => {
      throw new Error('forge unreachable');
    });
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'forge unreachable', summary: null });
    expect(await runsOf('broken')).toMatchObject([
      { status: 'FAILED', error: 'forge unreachable', summary: null },
    ]);
    expect(await lockHolders()).toEqual([]);
  });

  it('a second run of the same job while one runs is SKIPPED; another job is not blocked', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const first = runWithJobLock(orm.em, { job: 'slow', trigger: 'SCHEDULE' }, async () => {
      started();
      await gate;
      return { done: true };
    });
    await running;
    const second = await runWithJobLock(orm.em, { job: 'slow', trigger: 'MANUAL' }, async () => ({
      done: true,
    }));
    expect(second).toMatchObject({
      status: 'SKIPPED',
      summary: { skipped: 'already running' },
      trigger: 'MANUAL',
    });
    const other = await runWithJobLock(orm.em, { job: 'other', trigger: 'MANUAL' }, async () => ({ ok: 1 }));
    expect(other.status).toBe('SUCCEEDED');
    release();
    expect((await first).status).toBe('SUCCEEDED');
    expect((await runsOf('slow')).map((r) => [r.trigger, r.status])).toEqual([
      ['SCHEDULE', 'SUCCEEDED'],
      ['MANUAL', 'SKIPPED'],
    ]);
    // The lock went with the run.
    expect((await runWithJobLock(orm.em, { job: 'slow', trigger: 'MANUAL' }, async () => ({}))).status).toBe(
      'SUCCEEDED',
    );
  });

  it('closes RUNNING rows left by a process that died', async () => {
    await db.query(
      "insert into job_run (job, trigger, host, pid, started_at, status) values ('crashy', 'SCHEDULE', 'gone', 1, now() - interval '1 hour', 'RUNNING')",
    );
    const outcome = await runWithJobLock(orm.em, { job: 'crashy', trigger: 'SCHEDULE' }, async () => ({}));
    expect(outcome.status).toBe('SUCCEEDED');
    const rows = await runsOf('crashy');
    expect(rows.map((r) => r.status)).toEqual(['FAILED', 'SUCCEEDED']);
    expect(rows[0].error).toMatch(/^abandoned/);
    expect(rows[0].finished_at).toBeInstanceOf(Date);
  });
});
