import { Migration } from '@mikro-orm/migrations';

/**
 * Running out of credit: `credit_watch` is what the credit watch (auto-release tick) has seen of
 * each user's balance (the low episode it announced, the negative episode it announced), so each
 * episode's events are written once; the usage debits of the last days are read per user through
 * a partial index (the runway); and a release may now be `CREDIT_EXHAUSTED`.
 */
export class Migration20261204100000_credit_watch extends Migration {
  override name = 'Migration20261204100000_credit_watch';

  override up(): void {
    this.addSql(`
create table credit_watch (
  user_id uuid primary key references users (id) on delete cascade,
  -- Start of the low episode last announced (balance.low); null: not low when last looked at.
  low_since timestamptz null,
  -- The ledger row that took the balance below zero, of the negative episode last announced
  -- (balance.negative), and its time; null: not negative when last looked at.
  negative_entry_id bigint null,
  negative_since timestamptz null,
  updated_at timestamptz not null default now()
);`);
    this.addSql(
      `create index ledger_entry_usage_user_created_index on ledger_entry (user_id, created_at)
         include (amount_cents) where kind = 'USAGE';`,
    );
    this.addSql('alter table vm_allocation drop constraint if exists vm_allocation_release_reason_check;');
    this.addSql(`alter table vm_allocation add constraint vm_allocation_release_reason_check
      check (release_reason in ('USER', 'ADMIN', 'EXPIRED', 'CREDIT_EXHAUSTED'));`);
  }

  override down(): void {
    this.addSql('alter table vm_allocation drop constraint if exists vm_allocation_release_reason_check;');
    this.addSql(`alter table vm_allocation add constraint vm_allocation_release_reason_check
      check (release_reason in ('USER', 'ADMIN', 'EXPIRED'));`);
    this.addSql('drop index if exists ledger_entry_usage_user_created_index;');
    this.addSql('drop table if exists credit_watch;');
  }
}
