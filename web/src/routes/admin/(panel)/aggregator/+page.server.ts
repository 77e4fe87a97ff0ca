import { graphql, type ResultOf } from '@hero/graphql';
import { fail } from '@sveltejs/kit';
import type { Done } from '#lib/components/admin/types.ts';
import {
  adminGql,
  adminQuery,
  connectionArgs,
  failedFrom,
  nodes,
  pageInfoOf,
  param,
} from '#lib/server/admin.ts';
import { PageInfoFields } from '#lib/server/admin-fragments.ts';
import type { Actions, PageServerLoad } from './$types';

const STATE = graphql(`
  query AdminAggregatorState {
    aggregatorState {
      nodeName
      lastCommitSha
      lastRunAt
      lastSuccessAt
      recordsConsumedTotal
      filesTotal
      lastError
      ignoredFiles
    }
    jobRuns(job: "aggregate", first: 20) {
      edges {
        node {
          id
          status
          trigger
          startedAt
          finishedAt
          summary
        }
      }
    }
  }
`);

const REJECTED = graphql(
  `
    query AdminRejectedRecords($nodeName: String, $first: Int, $after: String, $last: Int, $before: String) {
      rejectedRecords(nodeName: $nodeName, first: $first, after: $after, last: $last, before: $before) {
        edges {
          node {
            id
            createdAt
            nodeName
            filePath
            idempotencyKey
            userId
            reason
            record
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

const AGGREGATE_NOW = graphql(`
  mutation AdminAggregateNow {
    aggregateNow {
      nodesSeen
      nodesSkipped
      nodesFailed
      filesRead
      recordsSeen
      recordsApplied
      recordsDuplicate
      recordsRejected
      centsDebited
      debitedByCurrency {
        currency
        cents
      }
      ignoredFiles
      ignoredFileList {
        path
        reason
      }
      errors
    }
  }
`);

type RunRow = ResultOf<typeof STATE>['jobRuns']['edges'][number]['node'];
type AggregateSummary = ResultOf<typeof AGGREGATE_NOW>['aggregateNow'];
// A run's JSON summary lists the ignored files as aggregateNow answers them.
type IgnoredFile = AggregateSummary['ignoredFileList'][number];

/** What the newest run that says it found under nodes/ but did not read (runs before it did not say). */
function lastIgnored(runs: RunRow[]): { count: number; list: IgnoredFile[]; at: string } | null {
  for (const run of runs) {
    const s = run.summary as { ignoredFiles?: unknown; ignoredFileList?: unknown } | null;
    if (run.status !== 'SUCCEEDED' || typeof s?.ignoredFiles !== 'number') continue;
    const list = Array.isArray(s.ignoredFileList) ? (s.ignoredFileList as IgnoredFile[]) : [];
    return { count: s.ignoredFiles, list, at: run.finishedAt ?? run.startedAt };
  }
  return null;
}

/** recordsApplied of a finished run's summary (SKIPPED runs only say `{ skipped }`). */
function recordsApplied(summary: unknown): number | null {
  if (summary && typeof summary === 'object' && 'recordsApplied' in summary) {
    const n = (summary as { recordsApplied: unknown }).recordsApplied;
    return typeof n === 'number' ? n : null;
  }
  return null;
}

export const load: PageServerLoad = async (event) => {
  const nodeName = param(event.url, 'node');
  const [state, rejected] = await Promise.all([
    adminQuery(event, STATE),
    adminQuery(event, REJECTED, { nodeName, ...connectionArgs(event.url) }),
  ]);
  const recent = nodes(state.data?.jobRuns);
  // Oldest first, for the chart.
  const runs = recent
    .map((run) => ({ ...run, recordsApplied: recordsApplied(run.summary) }))
    .filter((r): r is RunRow & { recordsApplied: number } => r.recordsApplied !== null)
    .reverse()
    .map(({ id, startedAt, trigger, recordsApplied }) => ({ id, startedAt, trigger, recordsApplied }));
  return {
    filters: { node: nodeName ?? '' },
    nodes: state.data?.aggregatorState ?? [],
    runs,
    ignored: lastIgnored(recent),
    error: state.error,
    rejected: nodes(rejected.data?.rejectedRecords),
    rejectedPageInfo: pageInfoOf(rejected.data?.rejectedRecords),
    rejectedError: rejected.error,
  };
};

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export const actions: Actions = {
  aggregate: async (event) => {
    try {
      const { aggregateNow: s } = await adminGql(event, AGGREGATE_NOW);
      return {
        aggregate: {
          ok: true,
          message:
            `Aggregation finished: ${plural(s.recordsApplied, 'record')} applied, ${s.recordsDuplicate} duplicate, ` +
            `${s.recordsRejected} rejected, from ${plural(s.filesRead, 'file')} ` +
            `(${plural(s.nodesSeen, 'node')}: ${s.nodesSkipped} unchanged, ${s.nodesFailed} failed)` +
            (s.ignoredFiles > 0 ? `; ${s.ignoredFiles} ignored under nodes/ (not usage files).` : '.'),
          summary: s,
        } satisfies Done<{ summary: AggregateSummary }>,
      };
    } catch (err) {
      const said = err instanceof Error ? err.message : '';
      return fail(503, {
        aggregate: failedFrom(err, {
          ALREADY_RUNNING: 'An aggregation is already running.',
          USAGE_SOURCE_UNAVAILABLE: `Usage source unavailable: there is nothing to aggregate from. ${said}`,
          JOB_FAILED: `The aggregation failed (see Jobs): ${said}`,
        }),
      });
    }
  },
};
