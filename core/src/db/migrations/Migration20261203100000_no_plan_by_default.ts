import { Migration } from '@mikro-orm/migrations';

/**
 * A new account holds no VM until it has a plan period (a purchase, an operator's quota, a
 * sign-up trial): its quota starts at 0. Existing users keep theirs.
 */
export class Migration20261203100000_no_plan_by_default extends Migration {
  override name = 'Migration20261203100000_no_plan_by_default';

  override up(): void {
    this.addSql('alter table users alter column vm_quota set default 0;');
  }

  override down(): void {
    this.addSql('alter table users alter column vm_quota set default 1;');
  }
}
