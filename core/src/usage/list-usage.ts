import type { EntityManager } from '@mikro-orm/postgresql';
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
