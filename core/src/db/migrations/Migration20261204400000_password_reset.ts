import { Migration } from '@mikro-orm/migrations';

/**
 * Password reset links: only the token's sha256 is stored; a token works once (used_at) and
 * until expires_at. Rows are deleted with their user.
 */
export class Migration20261204400000_password_reset extends Migration {
  override name = 'Migration20261204400000_password_reset';

  override up(): void {
    this.addSql(`
create table password_reset_token (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  token_hash text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz null,
  constraint password_reset_token_hash_unique unique (token_hash)
);`);
    // Ending a user's outstanding links (after a reset or a change), and the cascade.
    this.addSql('create index password_reset_token_user_id_index on password_reset_token (user_id);');
    // Pruning of long-expired links.
    this.addSql('create index password_reset_token_expires_at_index on password_reset_token (expires_at);');
  }

  override down(): void {
    this.addSql('drop table if exists password_reset_token;');
  }
}
