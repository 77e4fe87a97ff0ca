import { graphql, type ResultOf } from '@hero/graphql';
import { collectPages } from '../client.ts';
import { defineCommand } from '../command.ts';
import { formatDuration, formatJson, formatSummary, formatTable, formatTime, truncate } from '../format.ts';

const DEFAULT_JOBS_LIMIT = 20;

export const JOB_RUNS = graphql(`query JobRuns($job: String, $first: Int, $after: String) {
  jobRuns(job: $job, first: $first, after: $after) {
    edges { node { id job trigger status host pid startedAt finishedAt summary error } }
    pageInfo { hasNextPage endCursor }
  }
}`);

type JobRun = ResultOf<typeof JOB_RUNS>['jobRuns']['edges'][number]['node'];

function duration(run: JobRun): string {
  if (!run.finishedAt) return run.status === 'RUNNING' ? 'running' : '-';
  return formatDuration(new Date(run.finishedAt).getTime() - new Date(run.startedAt).getTime());
}

export const jobsList = defineCommand({
  name: 'jobs list',
  summary: 'list recent job runs, newest first',
  options: {
    job: { type: 'string', value: '<name>', help: 'only runs of this job (e.g. outbox, auto-release)' },
    limit: {
      type: 'string',
      value: '<n>',
      help: `at most this many (default ${DEFAULT_JOBS_LIMIT}; pages are followed)`,
    },
  },
  parse: (values) => ({
    job: values.string('job') === undefined ? undefined : values.required('job'),
    limit: values.positiveInt('limit', DEFAULT_JOBS_LIMIT),
  }),
  uses: 'api',
  async run({ client, json, io }, { job, limit }) {
    const runs = await collectPages(limit, async (first, after) => {
      const data = await client.request(JOB_RUNS, {
        job: job ?? null,
        first,
        after,
      });
      return data.jobRuns;
    });
    if (json) return io.out(formatJson(runs));
    if (runs.length === 0) return io.out(job ? `no runs of job ${job}\n` : 'no job runs\n');
    io.out(
      formatTable(
        ['id', 'job', 'trigger', 'status', 'started', 'duration', 'host/pid', 'summary / error'],
        runs.map((r) => [
          r.id,
          r.job,
          r.trigger,
          r.status,
          formatTime(r.startedAt),
          duration(r),
          `${r.host}/${r.pid}`,
          truncate(r.error ? `error: ${r.error}` : formatSummary(r.summary), 80),
        ]),
      ),
    );
  },
});
