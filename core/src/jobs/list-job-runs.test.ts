import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../testing/database.ts';
import { countQuietJobRuns, pageJobRuns } from './list-job-runs.ts';

const t = useTestDatabase();

/** One finished job run, `minutesAgo` before now; its id. */
async function run(
  job: string,
  status: string,
  summary: unknown,
  options: { trigger?: string; minutesAgo?: number; error?: string } = {},
): Promise<number> {
  const rows = await t.query<{ id: string }>(
    `insert into job_run (job, trigger, host, pid, started_at, finished_at, status, summary, error)
     values ($1, $2, 'h', 1, now() - make_interval(mins => $3::int), now() - make_interval(mins => $3::int),
             $4, $5::jsonb, $6) returning id`,
    [
      job,
      options.trigger ?? 'SCHEDULE',
      options.minutesAgo ?? 0,
      status,
      JSON.stringify(summary),
      options.error ?? null,
    ],
  );
  return Number(rows[0].id);
}

const nothingDelivered = { delivered: 0, retried: 0, failed: 0, errors: [] };

describe('pageJobRuns and countQuietJobRuns', () => {
  it('tell quiet runs from runs that did something, and put the day’s failures first', async () => {
    const failed = await run('aggregate', 'FAILED', null, { minutesAgo: 30, error: 'forge: HTTP 500' });
    const oldFailure = await run('aggregate', 'FAILED', null, { minutesAgo: 3 * 24 * 60, error: 'old' });
    const manual = await run('outbox', 'SUCCEEDED', nothingDelivered, { trigger: 'MANUAL', minutesAgo: 20 });
    const delivered = await run(
      'outbox',
      'SUCCEEDED',
      { ...nothingDelivered, delivered: 2 },
      { minutesAgo: 10 },
    );
    const erred = await run(
      'outbox',
      'SUCCEEDED',
      { ...nothingDelivered, errors: ['smtp down'] },
      { minutesAgo: 9 },
    );
    const skipped = await run('outbox', 'SKIPPED', { skipped: 'already running' }, { minutesAgo: 8 });
    // Nodes looked at but all skipped, no credit-watch activity nested: nothing done.
    const quietAggregate = await run(
      'aggregate',
      'SUCCEEDED',
      { nodesSeen: 3, nodesSkipped: 3, recordsApplied: 0, ignoredFileList: [{ path: 'x' }] },
      { minutesAgo: 7 },
    );
    const nestedActivity = await run(
      'auto-release',
      'SUCCEEDED',
      { rowsExamined: 4, rowsReleased: 0, errors: [], credit: { lowEvents: 1, errors: [] } },
      { minutesAgo: 6 },
    );
    const quietOutbox: number[] = [];
    for (let i = 0; i < 5; i++)
      quietOutbox.push(await run('outbox', 'SUCCEEDED', nothingDelivered, { minutesAgo: i }));

    const ids = async (...args: Parameters<typeof pageJobRuns> extends [unknown, ...infer R] ? R : never) =>
      (await pageJobRuns(t.em(), ...args)).map((r) => r.id);

    // Every run, newest first.
    expect(await ids({}, 100, 0)).toEqual([
      ...quietOutbox,
      nestedActivity,
      quietAggregate,
      skipped,
      erred,
      delivered,
      manual,
      failed,
      oldFailure,
    ]);
    expect(await ids({ quiet: false }, 100, 0)).toEqual([
      nestedActivity,
      erred,
      delivered,
      manual,
      failed,
      oldFailure,
    ]);
    expect(await ids({ quiet: true }, 100, 0)).toEqual([...quietOutbox, quietAggregate, skipped]);
    expect(await ids({ job: 'aggregate', status: 'FAILED' }, 100, 0)).toEqual([failed, oldFailure]);
    expect(await ids({ job: 'outbox', quiet: false }, 100, 0)).toEqual([erred, delivered, manual]);

    // The last day's failures and manual runs first; a three-day-old failure takes its turn.
    expect(await ids({}, 3, 0, { notableFirst: true })).toEqual([manual, failed, quietOutbox[0]]);
    expect(await ids({}, 100, 0, { notableFirst: true })).toHaveLength(13);
    expect((await ids({}, 100, 0, { notableFirst: true })).at(-1)).toBe(oldFailure);
    expect(await ids({}, 2, 2, { notableFirst: true })).toEqual([quietOutbox[0], quietOutbox[1]]);

    expect(await countQuietJobRuns(t.em(), {})).toEqual([
      { job: 'aggregate', quietRuns: 1 },
      { job: 'outbox', quietRuns: 6 },
    ]);
    expect(await countQuietJobRuns(t.em(), { job: 'outbox', status: 'SUCCEEDED' })).toEqual([
      { job: 'outbox', quietRuns: 5 },
    ]);
    expect(await countQuietJobRuns(t.em(), { status: 'FAILED' })).toEqual([]);
  });

  it('a run is quiet or not as it finishes: the stored flag follows its status and summary', async () => {
    const id = await run('probe', 'RUNNING', null);
    const quiet = async () =>
      (await pageJobRuns(t.em(), { job: 'probe', quiet: true }, 10, 0)).map((r) => r.id);
    expect(await quiet()).toEqual([]);
    await t.query("update job_run set status = 'SUCCEEDED', summary = $2::jsonb where id = $1", [
      id,
      JSON.stringify(nothingDelivered),
    ]);
    expect(await quiet()).toEqual([id]);
    await t.query('update job_run set summary = $2::jsonb where id = $1', [
      id,
      JSON.stringify({ ...nothingDelivered, delivered: 1 }),
    ]);
    expect(await quiet()).toEqual([]);
  });
});
