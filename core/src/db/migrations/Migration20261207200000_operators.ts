import { Migration } from '@mikro-orm/migrations';

/**
 * Named operators with roles, in a table of their own: an operator is not a user, so no
 * customer row can gain admin rights by a flag, and no operator holds a balance or a VM. An
 * ADMIN session now belongs either to an operator or (break-glass) to the admin secret.
 * Audit rows name operators by their own actor kind.
 */
export class Migration20261207200000_operators extends Migration {
  override name = 'Migration20261207200000_operators';

  override up(): void {
    this.addSql(`
create table operator (
  id uuid primary key default gen_random_uuid(),
  email text not null,
  role text not null,
  password_hash text null,
  forge_id text null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint operator_email_unique unique (email),
  constraint operator_forge_id_unique unique (forge_id),
  constraint operator_role_check check (role in ('owner', 'operator', 'billing', 'viewer'))
);`);
    this.addSql(`
alter table auth_session
  add column operator_id uuid null references operator (id) on delete cascade,
  drop constraint auth_session_owner_check,
  add constraint auth_session_owner_check check (
    (kind = 'USER' and user_id is not null and secret_fingerprint is null and operator_id is null)
    or (kind = 'ADMIN' and user_id is null
        and ((secret_fingerprint is not null and operator_id is null)
          or (secret_fingerprint is null and operator_id is not null)))
  );`);
    this.addSql(
      'create index auth_session_operator_id_index on auth_session (operator_id) where operator_id is not null;',
    );
    this.addSql(`
alter table audit_log
  drop constraint audit_log_actor_kind_check,
  add constraint audit_log_actor_kind_check
    check (actor_kind in ('admin-secret', 'admin-session', 'operator', 'user', 'anonymous'));`);
  }

  override down(): void {
    this.addSql(`
alter table audit_log
  drop constraint audit_log_actor_kind_check,
  add constraint audit_log_actor_kind_check
    check (actor_kind in ('admin-secret', 'admin-session', 'user', 'anonymous')) not valid;`);
    this.addSql('delete from auth_session where operator_id is not null;');
    this.addSql(`
alter table auth_session
  drop constraint auth_session_owner_check,
  drop column operator_id,
  add constraint auth_session_owner_check check (
    (kind = 'USER' and user_id is not null and secret_fingerprint is null)
    or (kind = 'ADMIN' and user_id is null and secret_fingerprint is not null)
  );`);
    this.addSql('drop table operator;');
  }
}
