import { EntityRepository } from '@mikro-orm/postgresql';
import type { AggregatorNodeState } from '../entities/aggregator-node-state.entity.ts';
import type { ConsumedRecord } from '../entities/consumed-record.entity.ts';
import type { RejectedUsageRecord } from '../entities/rejected-usage-record.entity.ts';

export interface UsageRecordFilter {
  userId?: string;
  nodeName?: string;
}

export class ConsumedRecordRepository extends EntityRepository<ConsumedRecord> {
  /** Newest first. */
  page(filter: UsageRecordFilter, limit: number, offset: number): Promise<ConsumedRecord[]> {
    return this.find(
      {
        ...(filter.userId ? { userId: filter.userId } : {}),
        ...(filter.nodeName ? { nodeName: filter.nodeName } : {}),
      },
      { orderBy: { appliedAt: 'desc', idempotencyKey: 'asc' }, limit, offset },
    );
  }
}

export class RejectedUsageRecordRepository extends EntityRepository<RejectedUsageRecord> {
  /** Newest first. */
  page(filter: UsageRecordFilter, limit: number, offset: number): Promise<RejectedUsageRecord[]> {
    return this.find(
      {
        ...(filter.userId ? { userId: filter.userId } : {}),
        ...(filter.nodeName ? { nodeName: filter.nodeName } : {}),
      },
      { orderBy: { createdAt: 'desc', id: 'desc' }, limit, offset },
    );
  }
}

export class AggregatorNodeStateRepository extends EntityRepository<AggregatorNodeState> {
  all(): Promise<AggregatorNodeState[]> {
    return this.findAll({ orderBy: { nodeName: 'asc' } });
  }
}
