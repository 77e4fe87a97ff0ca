import { graphql, type ResultOf } from '@hero/graphql';
import { fail } from '@sveltejs/kit';
import type { Done } from '#lib/components/admin/types.ts';
import {
  adminGql,
  adminQuery,
  connectionArgs,
  enumParam,
  failedFrom,
  nodes,
  pageInfoOf,
  param,
} from '#lib/server/admin.ts';
import { PageInfoFields } from '#lib/server/admin-fragments.ts';
import type { Actions, PageServerLoad } from './$types';

/** The jobs the workers run (the filter also takes any other name from the URL). */
const KNOWN_JOBS = ['aggregate', 'auto-release', 'outbox', 'reconcile'];
const STATUSES = ['FAILED', 'RUNNING', 'SUCCEEDED', 'SKIPPED'] as const;

const JOB_RUNS = graphql(
  `
    query AdminJobRuns(
      $job: String
      $status: JobRunStatus
      $quiet: Boolean
      $first: Int
      $after: String
      $last: Int
      $before: String
    ) {
      quietJobRuns(job: $job, status: $status) {
        job
        quietRuns
      }
      jobRuns(
        job: $job
        status: $status
        quiet: $quiet
        notableFirst: true
        first: $first
        after: $after
        last: $last
        before: $before
      ) {
        edges {
          node {
            id
            job
            trigger
            status
            startedAt
            finishedAt
            host
            pid
            summary
            progress
            error
          }
        }
        pageInfo {
          ...PageInfoFields
        }
      }
    }
  `,
  [PageInfoFields],
);

const AUTO_RELEASE_NOW = graphql(`
  mutation AdminAutoReleaseNow {
    autoReleaseNow {
      rowsExamined
      rowsExpired
      rowsReleased
      rowsAlreadyReleased
      expiryWarnings
      plansRenewed
      errors
    }
  }
`);

type AutoReleaseSummary = ResultOf<typeof AUTO_RELEASE_NOW>['autoReleaseNow'];

export const load: PageServerLoad = async (event) => {
  const job = param(event.url, 'job');
  const status = enumParam(event.url, 'status', STATUSES);
  // Quiet runs (scheduled ticks that did nothing) are left out unless asked for: `?quiet=show`.
  const showQuiet = param(event.url, 'quiet') === 'show';
  const result = await adminQuery(event, JOB_RUNS, {
    job,
    status,
    quiet: showQuiet ? undefined : false,
    ...connectionArgs(event.url),
  });
  return {
    filters: { job: job ?? '', status: status ?? '', showQuiet },
    statuses: STATUSES,
    quiet: result.data?.quietJobRuns ?? [],
    jobs: job && !KNOWN_JOBS.includes(job) ? [...KNOWN_JOBS, job] : KNOWN_JOBS,
    runs: nodes(result.data?.jobRuns),
    pageInfo: pageInfoOf(result.data?.jobRuns),
    error: result.error,
  };
};

export const actions: Actions = {
  autoRelease: async (event) => {
    try {
      const { autoReleaseNow: s } = await adminGql(event, AUTO_RELEASE_NOW);
      return {
        autoRelease: {
          ok: true,
          message:
            `Auto-release finished: ${s.rowsExamined} examined, ${s.rowsExpired} expired, ${s.rowsReleased} released, ` +
            `${s.rowsAlreadyReleased} already released, ${s.expiryWarnings} expiry warning${s.expiryWarnings === 1 ? '' : 's'}, ` +
            `${s.plansRenewed} plan${s.plansRenewed === 1 ? '' : 's'} renewed, ` +
            `${s.errors.length} error${s.errors.length === 1 ? '' : 's'}.`,
          summary: s,
        } satisfies Done<{ summary: AutoReleaseSummary }>,
      };
    } catch (err) {
      const said = err instanceof Error ? err.message : '';
      return fail(503, {
        autoRelease: failedFrom(err, {
          ALREADY_RUNNING: 'Auto-release is already running. Try again when it is done.',
          JOB_FAILED: `Auto-release failed (see the runs below): ${said}`,
        }),
      });
    }
  },
};
