import { Migration } from '@mikro-orm/migrations';

/**
 * Invitations reuse the reset links' table: `purpose` tells a reset link (1 hour) from an
 * invitation to set a first password (7 days); both are single-use and stored hashed.
 */
export class Migration20261205100000_invitations extends Migration {
  override name = 'Migration20261205100000_invitations';

  override up(): void {
    this.addSql(`
alter table password_reset_token
  add column purpose text not null default 'reset',
  add constraint password_reset_token_purpose_check check (purpose in ('reset', 'invite'));`);
  }

  override down(): void {
    this.addSql(`
alter table password_reset_token
  drop constraint if exists password_reset_token_purpose_check,
  drop column if exists purpose;`);
  }
}
