import { hostname } from 'node:os';
import type { EntityManager } from '@mikro-orm/postgresql';
import { execute, firstRow, rows, sql } from '../db/sql.ts';
import { JobRun, type JobTrigger } from '../entities/job-run.entity.ts';
import { JobAlreadyRunningError, JobFailedError } from '../errors.ts';
import type { Logger } from '../lib/logger.ts';

/**
 * First key of every job-run advisory lock: `pg_try_advisory_xact_lock(JOB_LOCK_NAMESPACE,
 * hashtext(<job name>))`. Other advisory locks (e.g. the aggregator's per-node locks) use
 * another namespace, so they never collide with a job's run lock.
 */
export const JOB_LOCK_NAMESPACE = 7_470_001;

/** The summary a run that found its job's lock taken records. */
export const SKIPPED_SUMMARY = { skipped: 'already running' } as const;

export interface RunWithJobLockOptions {
  /** The job's name: the lock key and `job_run.job`. */
  job: string;
  trigger: JobTrigger;
  /** Recorded on the job-run row; default this machine and process. */
  host?: string;
  pid?: number;
  log?: Logger;
}

interface OutcomeBase {
  runId: number;
  job: string;
  trigger: JobTrigger;
  startedAt: Date;
  finishedAt: Date;
}

export type JobOutcome<S> =
  | (OutcomeBase & { status: 'SUCCEEDED'; summary: S; error: null })
  | (OutcomeBase & { status: 'FAILED'; summary: null; error: string })
  | (OutcomeBase & { status: 'SKIPPED'; summary: typeof SKIPPED_SUMMARY; error: null });

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs one tick (scheduled) or one "run now" (admin) of a job under the job's advisory lock,
 * so two replicas, or a tick and a "run now", never overlap:
 *
 * - The lock is `pg_try_advisory_xact_lock`, taken in a transaction of its own that stays
 *   open for the whole run and holds nothing else. It goes with the transaction: at the end
 *   of the run, or when the process or its connection dies.
 * - Lock taken by someone else: a SKIPPED job-run row with `{ skipped: 'already running' }`,
 *   written on the lock's connection, so a skipped caller never needs a second one.
 * - Otherwise a RUNNING row (host, pid, trigger) is written and committed at once, the job
 *   runs with a fresh EntityManager fork of its own, and the row becomes SUCCEEDED with the
 *   job's summary, or FAILED with the error message. A job error is recorded, not thrown;
 *   only a database failure around the run itself (lock, job-run row) is thrown.
 *
 * Holding the lock also proves that no other run of this job is alive, so RUNNING rows left
 * by a process that died are closed as FAILED here.
 */
export async function runWithJobLock<S extends object>(
  em: EntityManager,
  options: RunWithJobLockOptions,
  run: (em: EntityManager, run: RunHandle) => Promise<S>,
): Promise<JobOutcome<S>> {
  const base = {
    job: options.job,
    trigger: options.trigger,
    host: options.host ?? hostname(),
    pid: options.pid ?? process.pid,
  };
  const log = options.log;
  // Job-run rows are written outside the lock transaction, so they are visible (RUNNING) at once.
  const runs = em.fork();

  return em.fork().transactional(async (lockTx): Promise<JobOutcome<S>> => {
    const lock = await firstRow(
      lockTx,
      sql<{
        locked: boolean;
      }>`select pg_try_advisory_xact_lock(${JOB_LOCK_NAMESPACE}, hashtext(${options.job})) as locked`,
    );
    if (!lock?.locked) {
      // On the lock's own connection: a caller that holds one pool connection and waits for a
      // second could, with enough of them at once, leave no connection for the run it waits on.
      const now = new Date();
      const row = lockTx.create(JobRun, {
        ...base,
        status: 'SKIPPED',
        startedAt: now,
        finishedAt: now,
        summary: { ...SKIPPED_SUMMARY },
        error: null,
      });
      await lockTx.flush();
      log?.info(
        { runId: row.id, trigger: base.trigger },
        `${options.job}: skipped, already running elsewhere`,
      );
      return { ...outcomeBase(row), status: 'SKIPPED', summary: SKIPPED_SUMMARY, error: null };
    }

    const abandoned = await rows(
      runs,
      sql<{ id: string }>`update job_run set status = 'FAILED', finished_at = now(),
              error = 'abandoned: the process running it stopped before it finished'
        where job = ${options.job} and status = 'RUNNING' returning id`,
    );
    if (abandoned.length > 0) {
      log?.warn(
        { runIds: abandoned.map((r) => Number(r.id)) },
        `${options.job}: closed abandoned RUNNING job runs`,
      );
    }

    const row = runs.create(JobRun, {
      ...base,
      status: 'RUNNING',
      startedAt: new Date(),
      summary: null,
      error: null,
    });
    await runs.flush();

    let outcome: { status: 'SUCCEEDED'; summary: S } | { status: 'FAILED'; error: string };
    try {
      const progress = progressWriter(em, row.id, log);
      try {
        outcome = {
          status: 'SUCCEEDED',
          summary: await run(em.fork(), { runId: row.id, progress: progress.report }),
        };
      } finally {
        await progress.stop();
      }
    } catch (err) {
      outcome = { status: 'FAILED', error: errorMessage(err) };
      log?.error({ runId: row.id, err }, `${options.job}: run failed`);
    }

    row.finishedAt = new Date();
    row.status = outcome.status;
    if (outcome.status === 'SUCCEEDED') row.summary = outcome.summary as Record<string, unknown>;
    else row.error = outcome.error;
    await runs.flush();

    return outcome.status === 'SUCCEEDED'
      ? { ...outcomeBase(row), status: 'SUCCEEDED', summary: outcome.summary, error: null }
      : { ...outcomeBase(row), status: 'FAILED', summary: null, error: outcome.error };
  });
}

/**
 * An admin's "run now" of a job: one run under the job's lock, recorded as a MANUAL job run.
 * A scheduled tick or another manual run holding the lock answers JobAlreadyRunningError (never
 * a second run at once); a failed run answers JobFailedError (the job-run row keeps the error).
 */
export async function runJobNow<S extends object>(
  em: EntityManager,
  job: string,
  log: Logger | undefined,
  run: (em: EntityManager, run: RunHandle) => Promise<S>,
): Promise<S> {
  const outcome = await runWithJobLock(em, { job, trigger: 'MANUAL', log }, run);
  if (outcome.status === 'SKIPPED') throw new JobAlreadyRunningError(job);
  if (outcome.status === 'FAILED') throw new JobFailedError(job, outcome.runId, outcome.error);
  return outcome.summary;
}

/** What a running job gets besides its EntityManager. */
export interface RunHandle {
  runId: number;
  /**
   * Live progress, shown on the RUNNING job-run row (`progress`): the latest value is written at
   * most every PROGRESS_INTERVAL_MS, outside the job's transactions; never throws.
   */
  progress(value: Record<string, unknown>): void;
}

const PROGRESS_INTERVAL_MS = 500;

function progressWriter(em: EntityManager, runId: number, log?: Logger) {
  const writer = em.fork();
  let latest: Record<string, unknown> | null = null;
  let writing: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    timer = null;
    const value = latest;
    latest = null;
    if (!value) return;
    writing = writing
      .then(() =>
        execute(writer, sql`update job_run set progress = ${JSON.stringify(value)} where id = ${runId}`),
      )
      .then(
        () => undefined,
        (err: unknown) => log?.warn({ err, runId }, 'could not record job progress'),
      );
  };
  return {
    report(value: Record<string, unknown>) {
      latest = value;
      if (!timer) timer = setTimeout(flush, PROGRESS_INTERVAL_MS);
    },
    async stop() {
      if (timer) clearTimeout(timer);
      flush();
      await writing;
    },
  };
}

function outcomeBase(row: JobRun): OutcomeBase {
  return {
    runId: row.id,
    job: row.job,
    trigger: row.trigger,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt ?? row.startedAt,
  };
}
