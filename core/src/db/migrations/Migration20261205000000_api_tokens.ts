import { Migration } from '@mikro-orm/migrations';

/**
 * Named API tokens: a user has any number, each with an optional expiry, a last use and a
 * revocation; only the token's sha256 is stored. The one `users.api_token_hash` a user had
 * becomes a token named 'default', and the column goes.
 */
export class Migration20261205000000_api_tokens extends Migration {
  override name = 'Migration20261205000000_api_tokens';

  override up(): void {
    this.addSql(`
create table api_token (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  name text not null,
  token_hash text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz null,
  last_used_at timestamptz null,
  revoked_at timestamptz null,
  constraint api_token_hash_unique unique (token_hash)
);`);
    // The account page's list, and the cascade.
    this.addSql('create index api_token_user_id_index on api_token (user_id, created_at);');
    this.addSql(`
insert into api_token (user_id, name, token_hash, created_at)
select id, 'default', api_token_hash, created_at from users where api_token_hash is not null;`);
    this.addSql('alter table users drop column api_token_hash;');
  }

  override down(): void {
    this.addSql('alter table users add column api_token_hash text null;');
    this.addSql('alter table users add constraint users_api_token_hash_unique unique (api_token_hash);');
    // Each user's oldest live token comes back as the one column value.
    this.addSql(`
update users u set api_token_hash = t.token_hash
  from (select distinct on (user_id) user_id, token_hash from api_token
         where revoked_at is null order by user_id, created_at) t
 where t.user_id = u.id;`);
    this.addSql('drop table if exists api_token;');
  }
}
