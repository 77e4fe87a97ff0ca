import { JOB_RUN_STATUSES, JOB_TRIGGERS, JobRun } from '@hero/core/entities/job-run.entity';
import { countQuietJobRuns, pageJobRuns } from '@hero/core/jobs/list-job-runs';
import { resolveOffsetConnection } from '@pothos/plugin-relay';
import { builder } from '../builder.ts';

export const JobTriggerEnum = builder.enumType('JobTrigger', {
  values: JOB_TRIGGERS,
  description: 'SCHEDULE: a worker tick. MANUAL: a "run now" (admin mutation, CLI or `--once`).',
});
export const JobRunStatusEnum = builder.enumType('JobRunStatus', {
  values: JOB_RUN_STATUSES,
  description: "SKIPPED: another run held the job's lock, nothing was done.",
});

export const JobRunType = builder.objectType(JobRun, {
  name: 'JobRun',
  description: 'One tick or manual run of a scheduled job.',
  fields: (t) => ({
    id: t.id({ resolve: (r) => String(r.id) }),
    job: t.exposeString('job', { description: 'auto-release, outbox, …' }),
    trigger: t.field({ type: JobTriggerEnum, resolve: (r) => r.trigger }),
    status: t.field({ type: JobRunStatusEnum, resolve: (r) => r.status }),
    host: t.exposeString('host'),
    pid: t.exposeInt('pid'),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    summary: t.field({
      type: 'JSON',
      nullable: true,
      description: "The job's summary (e.g. an AutoReleaseSummary); `{ skipped }` for a SKIPPED run.",
      resolve: (r) => r.summary ?? null,
    }),
    error: t.exposeString('error', { nullable: true }),
    progress: t.field({
      type: 'JSON',
      nullable: true,
      description:
        'Live progress while RUNNING (the aggregator: nodesDone, nodesTotal, filesRead, recordsSeen, recordsApplied); the last value afterwards.',
      resolve: (r) => r.progress ?? null,
    }),
  }),
});

const QUIET_DESCRIPTION =
  'A quiet run is a scheduled tick that did nothing: SKIPPED, or SUCCEEDED with a summary whose counters (other than those of what it looked at: nodesSeen, rowsExamined, …) are all 0 and lists empty.';

builder.queryField('jobRuns', (t) =>
  t.connection({
    type: JobRunType,
    description: `Admin: the job-run history, newest first, optionally for one job and status. ${QUIET_DESCRIPTION}`,
    authScopes: { adminRead: true },
    args: {
      job: t.arg.string({ required: false }),
      status: t.arg({ type: JobRunStatusEnum, required: false }),
      quiet: t.arg.boolean({
        required: false,
        description: 'true: only quiet runs; false: leave them out; unset: every run.',
      }),
      notableFirst: t.arg.boolean({
        required: false,
        description: "true: the last day's FAILED, RUNNING and MANUAL runs first (each group newest first).",
      }),
    },
    resolve: (_root, args, ctx) =>
      resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
        pageJobRuns(
          ctx.em,
          { job: args.job ?? undefined, status: args.status ?? undefined, quiet: args.quiet ?? undefined },
          limit,
          offset,
          { notableFirst: args.notableFirst ?? false },
        ),
      ),
  }),
);

const QuietJobRunsType = builder.objectRef<{ job: string; quietRuns: number }>('QuietJobRuns').implement({
  description: 'How many quiet runs one job has.',
  fields: (t) => ({
    job: t.exposeString('job'),
    quietRuns: t.exposeInt('quietRuns'),
  }),
});

builder.queryField('quietJobRuns', (t) =>
  t.field({
    type: [QuietJobRunsType],
    description: `Admin: per job, how many quiet runs there are (with the job and status filters of jobRuns); jobs without any are left out. ${QUIET_DESCRIPTION}`,
    authScopes: { adminRead: true },
    args: {
      job: t.arg.string({ required: false }),
      status: t.arg({ type: JobRunStatusEnum, required: false }),
    },
    resolve: (_root, args, ctx) =>
      countQuietJobRuns(ctx.em, { job: args.job ?? undefined, status: args.status ?? undefined }),
  }),
);
