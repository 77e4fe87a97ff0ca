import { Migration } from '@mikro-orm/migrations';

/**
 * The audit log: one row per admin mutation or security event, append-only. A trigger refuses
 * UPDATE, TRUNCATE and DELETE; the one exception is the retention purge (core/src/audit,
 * purgeAuditLog), which deletes inside a transaction that set `hero.audit_purge = on` locally.
 * The setting is a guard against accidents and ordinary code paths, not against a database owner.
 */
export class Migration20261205200000_audit_log extends Migration {
  override name = 'Migration20261205200000_audit_log';

  override up(): void {
    this.addSql(`
create table audit_log (
  id bigserial primary key,
  actor_kind text not null,
  actor_id text null,
  role text null,
  action text not null,
  target_type text null,
  target_id text null,
  input jsonb not null default '{}'::jsonb,
  outcome text not null,
  request_id text null,
  client_ip text null,
  created_at timestamptz not null default now(),
  constraint audit_log_actor_kind_check
    check (actor_kind in ('admin-secret', 'admin-session', 'user', 'anonymous'))
);`);
    // Newest first, by action, by target, and the retention purge by age.
    this.addSql('create index audit_log_created_at_index on audit_log (created_at);');
    this.addSql('create index audit_log_action_index on audit_log (action, id);');
    this.addSql('create index audit_log_target_id_index on audit_log (target_id, id);');
    this.addSql(`
create function audit_log_append_only() returns trigger language plpgsql as $$
begin
  if tg_op = 'DELETE' and current_setting('hero.audit_purge', true) = 'on' then
    return old;
  end if;
  raise exception 'audit_log is append-only (% refused)', tg_op using errcode = '42501';
end
$$;`);
    this.addSql(`
create trigger audit_log_append_only before update or delete on audit_log
  for each row execute function audit_log_append_only();`);
    this.addSql(`
create trigger audit_log_no_truncate before truncate on audit_log
  for each statement execute function audit_log_append_only();`);
  }

  override down(): void {
    this.addSql('drop table if exists audit_log;');
    this.addSql('drop function if exists audit_log_append_only();');
  }
}
