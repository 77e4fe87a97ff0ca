import { Migration } from '@mikro-orm/migrations';

/**
 * Account lifecycle: a user is `active`, `suspended` by an operator (sign-in, sessions, API
 * tokens and allocation refused; reversible), or `deleted` (personal data erased; the row stays
 * as a tombstone so the ledger, payments and consumed usage keep their user). Releases get the
 * reasons SUSPENDED and DELETED.
 */
export class Migration20261207100000_account_lifecycle extends Migration {
  override name = 'Migration20261207100000_account_lifecycle';

  override up(): void {
    this.addSql(`
alter table users
  add column status text not null default 'active',
  add column suspended_at timestamptz null,
  add column suspended_reason text null,
  add column deleted_at timestamptz null,
  add constraint users_status_check check (status in ('active', 'suspended', 'deleted')),
  add constraint users_status_times_check check (
    (status = 'suspended') = (suspended_at is not null) and (status = 'deleted') = (deleted_at is not null));`);
    this.addSql('alter table vm_allocation drop constraint if exists vm_allocation_release_reason_check;');
    this.addSql(`alter table vm_allocation add constraint vm_allocation_release_reason_check
      check (release_reason in ('USER', 'ADMIN', 'EXPIRED', 'CREDIT_EXHAUSTED', 'SUSPENDED', 'DELETED'));`);
  }

  override down(): void {
    this.addSql('alter table vm_allocation drop constraint if exists vm_allocation_release_reason_check;');
    this.addSql(`alter table vm_allocation add constraint vm_allocation_release_reason_check
      check (release_reason in ('USER', 'ADMIN', 'EXPIRED', 'CREDIT_EXHAUSTED'));`);
    this.addSql(`
alter table users
  drop constraint if exists users_status_times_check,
  drop constraint if exists users_status_check,
  drop column if exists deleted_at,
  drop column if exists suspended_reason,
  drop column if exists suspended_at,
  drop column if exists status;`);
  }
}
