import { JOB_RUN_STATUSES, JOB_TRIGGERS, JobRun } from '@hero/core/entities/job-run.entity';
import { pageJobRuns } from '@hero/core/jobs/list-job-runs';
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

builder.queryField('jobRuns', (t) =>
  t.connection({
    type: JobRunType,
    description: 'Admin: the job-run history, newest first, optionally for one job.',
    authScopes: { adminRead: true },
    args: { job: t.arg.string({ required: false }) },
    resolve: (_root, args, ctx) =>
      resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
        pageJobRuns(ctx.em, { job: args.job ?? undefined }, limit, offset),
      ),
  }),
);
