import { Migration } from '@mikro-orm/migrations';

/**
 * Which user events are also emailed to the user: warnings (a plan or VM about to end, credit
 * low or negative, a VM taken back for it) on by default, receipts (payments, renewals) off.
 */
export class Migration20261207300000_email_preferences extends Migration {
  override name = 'Migration20261207300000_email_preferences';

  override up(): void {
    this.addSql(`
alter table users
  add column email_warnings boolean not null default true,
  add column email_receipts boolean not null default false;`);
  }

  override down(): void {
    this.addSql(`
alter table users
  drop column if exists email_warnings,
  drop column if exists email_receipts;`);
  }
}
