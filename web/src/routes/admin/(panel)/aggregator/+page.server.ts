import { fail } from '@sveltejs/kit';
import type { Connection, Done } from '#lib/components/admin/types.ts';
import { adminGql, adminQuery, connectionArgs, failedFrom, nodes, param } from '#lib/server/admin.ts';
import { PAGE_ARGUMENTS, PAGE_INFO, PAGE_VARIABLES } from '#lib/server/admin-fragments.ts';
import type { Actions, PageServerLoad } from './$types';

const STATE = /* GraphQL */ `
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
`;

const REJECTED = /* GraphQL */ `
  query AdminRejectedRecords($nodeName: String, ${PAGE_VARIABLES}) {
    rejectedRecords(nodeName: $nodeName, ${PAGE_ARGUMENTS}) {
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
      ${PAGE_INFO}
    }
  }
`;

const AGGREGATE_NOW = /* GraphQL */ `
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
      ignoredFiles
      ignoredFileList {
        path
        reason
      }
      errors
    }
  }
`;

interface NodeState {
  nodeName: string;
  lastCommitSha: string | null;
  lastRunAt: string | null;
  lastSuccessAt: string | null;
  recordsConsumedTotal: number;
  filesTotal: number;
  lastError: string | null;
  ignoredFiles: number;
}

interface IgnoredFile {
  path: string;
  reason: string;
}

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

interface RunRow {
  id: string;
  status: string;
  trigger: string;
  startedAt: string;
  finishedAt: string | null;
  summary: unknown;
}

interface RejectedRow {
  id: string;
  createdAt: string;
  nodeName: string;
  filePath: string;
  idempotencyKey: string | null;
  userId: string | null;
  reason: string;
  record: unknown;
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
    adminQuery<{ aggregatorState: NodeState[]; jobRuns: { edges: { node: RunRow }[] } }>(event, STATE),
    adminQuery<{ rejectedRecords: Connection<RejectedRow> }>(event, REJECTED, {
      nodeName,
      ...connectionArgs(event.url),
    }),
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
    rejectedPageInfo: rejected.data?.rejectedRecords.pageInfo ?? null,
    rejectedError: rejected.error,
  };
};

interface AggregateSummary {
  nodesSeen: number;
  nodesSkipped: number;
  nodesFailed: number;
  filesRead: number;
  recordsSeen: number;
  recordsApplied: number;
  recordsDuplicate: number;
  recordsRejected: number;
  centsDebited: number;
  ignoredFiles: number;
  ignoredFileList: IgnoredFile[];
  errors: string[];
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export const actions: Actions = {
  aggregate: async (event) => {
    try {
      const { aggregateNow: s } = await adminGql<{ aggregateNow: AggregateSummary }>(event, AGGREGATE_NOW);
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
