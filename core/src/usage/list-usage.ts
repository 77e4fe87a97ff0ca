import type { EntityManager } from '@mikro-orm/postgresql';
import { rows, sql } from '../db/sql.ts';
import { AggregatorNodeState } from '../entities/aggregator-node-state.entity.ts';
import { ConsumedRecord } from '../entities/consumed-record.entity.ts';
import { RejectedUsageRecord } from '../entities/rejected-usage-record.entity.ts';

export interface UsageRecordFilter {
  userId?: string;
  nodeName?: string;
}

const recordFilter = (filter: UsageRecordFilter) => ({
  ...(filter.userId ? { userId: filter.userId } : {}),
  ...(filter.nodeName ? { nodeName: filter.nodeName } : {}),
});

/** Newest first. */
export function pageConsumedRecords(
  em: EntityManager,
  filter: UsageRecordFilter,
  limit: number,
  offset: number,
): Promise<ConsumedRecord[]> {
  return em.find(ConsumedRecord, recordFilter(filter), {
    orderBy: { appliedAt: 'desc', idempotencyKey: 'asc' },
    limit,
    offset,
  });
}

/** Newest first. */
export function pageRejectedRecords(
  em: EntityManager,
  filter: UsageRecordFilter,
  limit: number,
  offset: number,
): Promise<RejectedUsageRecord[]> {
  return em.find(RejectedUsageRecord, recordFilter(filter), {
    orderBy: { createdAt: 'desc', id: 'desc' },
    limit,
    offset,
  });
}

/** Every node's aggregator state, by node name. */
export function listNodeStates(em: EntityManager): Promise<AggregatorNodeState[]> {
  return em.findAll(AggregatorNodeState, { orderBy: { nodeName: 'asc' } });
}

/** Consumed usage of one user summed by where it came from (see usageOriginsForUser). */
export interface UsageOriginSum {
  resource: string;
  nodeName: string;
  /** The billing-repository commit the file was read at; null for records consumed before commits were kept. */
  commitSha: string | null;
  filePath: string;
  records: number;
  quantity: number;
  /** What these records cost: a positive number of cents. */
  costCents: number;
}

/**
 * A user's consumed usage records applied in [from, to), summed per resource, node, commit and
 * file (per resource and node, in the order they were applied). `applied_at` is the debit's transaction time, the same as its USAGE ledger row's
 * `created_at`, so a window selects the records whose debits the ledger shows in it.
 */
export async function usageOriginsForUser(
  em: EntityManager,
  userId: string,
  from: Date,
  to: Date,
): Promise<UsageOriginSum[]> {
  const found = await rows(
    em,
    sql<{
      resource: string;
      node_name: string;
      commit_sha: string | null;
      file_path: string;
      records: number;
      quantity: number;
      cents: string;
    }>`select resource, node_name, commit_sha, file_path, count(*)::int as records,
              sum(quantity)::float8 as quantity, sum(cost_cents)::text as cents
         from consumed_record
        where user_id = ${userId} and applied_at >= ${from} and applied_at < ${to}
        group by resource, node_name, commit_sha, file_path
        order by resource, node_name, min(applied_at), file_path, commit_sha nulls first`,
  );
  return found.map((r) => ({
    resource: r.resource,
    nodeName: r.node_name,
    commitSha: r.commit_sha,
    filePath: r.file_path,
    records: r.records,
    quantity: Number(r.quantity),
    costCents: Number(r.cents),
  }));
}
