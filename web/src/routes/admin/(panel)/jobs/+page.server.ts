import { fail } from '@sveltejs/kit';
import type { Connection, Done } from '#lib/components/admin/types.ts';
import { adminGql, adminQuery, connectionArgs, failedFrom, nodes, param } from '#lib/server/admin.ts';
import { PAGE_ARGUMENTS, PAGE_INFO, PAGE_VARIABLES } from '#lib/server/admin-fragments.ts';
import type { Actions, PageServerLoad } from './$types';

/** The jobs the workers run (the filter also takes any other name from the URL). */
const KNOWN_JOBS = ['aggregate', 'auto-release', 'outbox', 'reconcile'];

const JOB_RUNS = /* GraphQL */ `
  query AdminJobRuns($job: String, ${PAGE_VARIABLES}) {
    jobRuns(job: $job, ${PAGE_ARGUMENTS}) {
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
      ${PAGE_INFO}
    }
  }
`;

const AUTO_RELEASE_NOW = /* GraphQL */ `
  mutation AdminAutoReleaseNow {
    autoReleaseNow {
      rowsExamined
      rowsExpired
      rowsReleased
      rowsAlreadyReleased
      expiryWarnings
      errors
    }
  }
`;

interface JobRunRow {
  id: string;
  job: string;
  trigger: string;
  status: string;
  startedAt: string;
  finishedAt: string | null;
  host: string;
  pid: number;
  summary: unknown;
  progress: unknown;
  error: string | null;
}

export const load: PageServerLoad = async (event) => {
  const job = param(event.url, 'job');
  const result = await adminQuery<{ jobRuns: Connection<JobRunRow> }>(event, JOB_RUNS, {
    job,
    ...connectionArgs(event.url),
  });
  return {
    filters: { job: job ?? '' },
    jobs: job && !KNOWN_JOBS.includes(job) ? [...KNOWN_JOBS, job] : KNOWN_JOBS,
    runs: nodes(result.data?.jobRuns),
    pageInfo: result.data?.jobRuns.pageInfo ?? null,
    error: result.error,
  };
};

interface AutoReleaseSummary {
  rowsExamined: number;
  rowsExpired: number;
  rowsReleased: number;
  rowsAlreadyReleased: number;
  expiryWarnings: number;
  errors: string[];
}

export const actions: Actions = {
  autoRelease: async (event) => {
    try {
      const { autoReleaseNow: s } = await adminGql<{ autoReleaseNow: AutoReleaseSummary }>(
        event,
        AUTO_RELEASE_NOW,
      );
      return {
        autoRelease: {
          ok: true,
          message:
            `Auto-release finished: ${s.rowsExamined} examined, ${s.rowsExpired} expired, ${s.rowsReleased} released, ` +
            `${s.rowsAlreadyReleased} already released, ${s.expiryWarnings} expiry warning${s.expiryWarnings === 1 ? '' : 's'}, ` +
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
