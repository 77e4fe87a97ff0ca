import { Migration } from '@mikro-orm/migrations';

/**
 * Sign-in for the web UI: user passwords (argon2id), sessions for users and admins (only the
 * token's sha256 is stored), and sign-in attempt counters shared by every api replica.
 */
export class Migration20261123300000_sessions extends Migration {
  override name = 'Migration20261123300000_sessions';

  override up(): void {
    this.addSql('alter table users add column password_hash text null;');
    this.addSql(`
create table auth_session (
  id uuid primary key default gen_random_uuid(),
  kind text not null,
  user_id uuid null references users (id) on delete cascade,
  token_hash text not null,
  secret_fingerprint text null,
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz null,
  ip text null,
  user_agent text null,
  constraint auth_session_token_hash_unique unique (token_hash),
  constraint auth_session_kind_check check (kind in ('USER', 'ADMIN')),
  -- A USER session belongs to a user; an ADMIN session to nobody, and knows its secret.
  constraint auth_session_owner_check check (
    (kind = 'USER' and user_id is not null and secret_fingerprint is null)
    or (kind = 'ADMIN' and user_id is null and secret_fingerprint is not null)
  )
);`);
    // revokeUserSessions, User.activeSessions, and the cascade when a user is deleted.
    this.addSql(
      'create index auth_session_user_id_index on auth_session (user_id) where user_id is not null;',
    );
    // Pruning of long-ended sessions.
    this.addSql('create index auth_session_expires_at_index on auth_session (expires_at);');

    this.addSql(`
create table auth_rate_limit (
  bucket text not null,
  window_start timestamptz not null,
  attempts integer not null,
  primary key (bucket, window_start)
);`);
    this.addSql('create index auth_rate_limit_window_start_index on auth_rate_limit (window_start);');

    // The admin's webhook event list, newest first.
    this.addSql('create index webhook_event_received_at_index on webhook_event (received_at desc);');
  }

  override down(): void {
    this.addSql('drop index if exists webhook_event_received_at_index;');
    this.addSql('drop table if exists auth_rate_limit;');
    this.addSql('drop table if exists auth_session;');
    this.addSql('alter table users drop column if exists password_hash;');
  }
}
