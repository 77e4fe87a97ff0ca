import { Migration } from '@mikro-orm/migrations';

/**
 * Email verification: `users.email_verified_at` (null: not verified, so no payment and no VM).
 * Accounts that exist already are counted as verified (the migration's time): they were made
 * before verification was asked for, and refusing their payments now would break them.
 * The emailed links reuse the reset links' table with two more purposes: `verify` (the
 * account's email, as it was when the link was sent) and `email` (a change to a new address,
 * applied only when the link is used); `email` is the address the link was sent to.
 */
export class Migration20261207000000_email_verification extends Migration {
  override name = 'Migration20261207000000_email_verification';

  override up(): void {
    // The default fills the existing rows, and stands for users inserted outside the domain
    // functions (fixtures, benchmarks); insertUser always writes the column itself.
    this.addSql('alter table users add column email_verified_at timestamptz null default now();');
    this.addSql(`
alter table password_reset_token
  drop constraint password_reset_token_purpose_check,
  add constraint password_reset_token_purpose_check
    check (purpose in ('reset', 'invite', 'verify', 'email')),
  add column email text null,
  add constraint password_reset_token_email_check
    check ((purpose in ('verify', 'email')) = (email is not null));`);
  }

  override down(): void {
    this.addSql("delete from password_reset_token where purpose in ('verify', 'email');");
    this.addSql(`
alter table password_reset_token
  drop constraint if exists password_reset_token_email_check,
  drop column if exists email,
  drop constraint password_reset_token_purpose_check,
  add constraint password_reset_token_purpose_check check (purpose in ('reset', 'invite'));`);
    this.addSql('alter table users drop column if exists email_verified_at;');
  }
}
