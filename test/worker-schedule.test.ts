/**
 * A worker timed by a cron schedule (`*_SCHEDULE`, node-schedule) instead of its interval: a real
 * worker process ticking at the schedule's times, and the start-up refusal of a bad schedule.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { waitFor } from './support/fake-deployer.ts';
import { freePort, spawnTs } from './support/process.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const reconcileRuns = (pid: number | undefined) =>
  db.query<{ trigger: string; status: string; started_at: Date }>(
    "select trigger, status, started_at from job_run where job = 'reconcile' and pid = $1 order by id",
    [pid],
  );

describe('worker with a cron schedule', () => {
  it('RECONCILE_SCHEDULE="*/1 * * * * *" ticks every second, recorded in job_run; SIGTERM stops it (exit 0)', async () => {
    const port = await freePort();
    const worker = spawnTs('workers/src/main.ts', ['reconcile'], {
      DATABASE_URL: db.url,
      RECONCILE_SCHEDULE: '*/1 * * * * *',
      WORKER_HEALTH_PORT: String(port),
      WORKER_HEALTH_HOST: '127.0.0.1',
    });
    try {
      const started = JSON.parse(await worker.waitForLine(/reconcile worker started/, 60_000));
      expect(started).toMatchObject({ job: 'reconcile', schedule: '*/1 * * * * *' });
      expect(started).not.toHaveProperty('intervalMs');

      await waitFor(
        async () =>
          (await reconcileRuns(worker.child.pid)).filter((r) => r.status === 'SUCCEEDED').length >= 2,
        15_000,
        'two scheduled reconcile ticks',
      );
      const runs = await reconcileRuns(worker.child.pid);
      expect(runs.every((r) => r.trigger === 'SCHEDULE')).toBe(true);
      // At the schedule's times: whole seconds apart, at least one.
      const [first, second] = runs.map((r) => r.started_at.getTime());
      expect(second - first).toBeGreaterThanOrEqual(900);

      const health = await (await fetch(`http://127.0.0.1:${port}/healthz`)).json();
      expect(health).toMatchObject({ job: 'reconcile', schedule: '*/1 * * * * *' });
    } finally {
      expect(await worker.stop()).toBe(0);
    }
    expect(worker.lines.some((l) => l.includes('reconcile worker stopped'))).toBe(true);
    // The cancelled schedule starts nothing after the stop.
    const count = (await reconcileRuns(worker.child.pid)).length;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await reconcileRuns(worker.child.pid)).toHaveLength(count);
    expect((await reconcileRuns(worker.child.pid)).some((r) => r.status === 'RUNNING')).toBe(false);
  });

  it('a bad cron expression, or a schedule and an interval for one worker, exits 1 naming the variable', async () => {
    const bad = spawnTs('workers/src/main.ts', ['reconcile'], {
      DATABASE_URL: db.url,
      RECONCILE_SCHEDULE: 'every night',
    });
    expect(await bad.exited).toBe(1);
    expect(bad.lines).toContain('worker reconcile: invalid configuration');
    expect(
      bad.lines.some((l) => /^ {2}- RECONCILE_SCHEDULE: not a valid cron expression "every night"/.test(l)),
    ).toBe(true);

    const both = spawnTs('workers/src/main.ts', ['auto-release'], {
      DATABASE_URL: db.url,
      AUTO_RELEASE_INTERVAL_MS: '1000',
      AUTO_RELEASE_SCHEDULE: '5 * * * *',
    });
    expect(await both.exited).toBe(1);
    expect(both.lines).toContain(
      '  - AUTO_RELEASE_SCHEDULE: AUTO_RELEASE_INTERVAL_MS is also set: use one of them',
    );
  });
});
