import { Migration } from '@mikro-orm/migrations';

/**
 * Auto-renew: a user's opt-in (`users.auto_renew`), and on a renewal's purchase the period end it
 * renewed (`plan_purchase.renews_period_end`). The partial unique index makes a period renewed
 * at most once, whatever runs at the same time (two workers, a manual run).
 */
export class Migration20261204200000_auto_renew extends Migration {
  override name = 'Migration20261204200000_auto_renew';

  override up(): void {
    this.addSql('alter table users add column auto_renew boolean not null default false;');
    this.addSql('alter table plan_purchase add column renews_period_end timestamptz null;');
    this.addSql(`create unique index plan_purchase_renewal_unique on plan_purchase (user_id, renews_period_end)
                   where renews_period_end is not null;`);
    // Due periods are read by their end.
    this.addSql(`create index users_period_end_index on users (vm_quota_period_end)
                   where vm_quota_period_end is not null;`);
  }

  override down(): void {
    this.addSql('drop index if exists users_period_end_index;');
    this.addSql('drop index if exists plan_purchase_renewal_unique;');
    this.addSql('alter table plan_purchase drop column if exists renews_period_end;');
    this.addSql('alter table users drop column if exists auto_renew;');
  }
}
