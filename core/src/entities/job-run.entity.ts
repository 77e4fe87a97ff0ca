import { defineEntity, p } from '@mikro-orm/core';

export const JOB_TRIGGERS = ['SCHEDULE', 'MANUAL'] as const;
export type JobTrigger = (typeof JOB_TRIGGERS)[number];
export const JOB_RUN_STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'SKIPPED'] as const;
export type JobRunStatus = (typeof JOB_RUN_STATUSES)[number];

export const JobRunSchema = defineEntity({
  name: 'JobRun',
  tableName: 'job_run',
  indexes: [{ name: 'job_run_job_started_at_index', properties: ['job', 'startedAt'] }],
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    job: p.text(),
    trigger: p.enum(JOB_TRIGGERS),
    host: p.text(),
    pid: p.integer(),
    startedAt: p.datetime().onCreate(() => new Date()),
    finishedAt: p.datetime().nullable(),
    status: p.enum(JOB_RUN_STATUSES),
    summary: p.json<Record<string, unknown>>().nullable(),
    error: p.text().nullable(),
    /** Live progress of a RUNNING run (e.g. the aggregator's files and records so far). */
    progress: p.json<Record<string, unknown>>().nullable(),
  },
});

export class JobRun extends JobRunSchema.class {}
JobRunSchema.setClass(JobRun);
