import { EntityRepository } from '@mikro-orm/postgresql';
import type { LedgerEntry, LedgerKind } from '../entities/ledger-entry.entity.ts';

export class LedgerEntryRepository extends EntityRepository<LedgerEntry> {
  /** Newest first. */
  page(
    filter: { userId?: string; kind?: LedgerKind },
    limit: number,
    offset: number,
  ): Promise<LedgerEntry[]> {
    return this.find(
      { ...(filter.userId ? { userId: filter.userId } : {}), ...(filter.kind ? { kind: filter.kind } : {}) },
      { orderBy: { id: 'desc' }, limit, offset },
    );
  }
}
