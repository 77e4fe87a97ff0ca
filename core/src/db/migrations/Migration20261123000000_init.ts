import { Migration } from '@mikro-orm/migrations';

export class Migration20261123000000_init extends Migration {
  override name = 'Migration20261123000000_init';

  override up(): void {
    this.addSql(`
create table users (
  id uuid primary key default gen_random_uuid(),
  email text not null,
  display_name text not null,
  forge_id text null,
  api_token_hash text null,
  vm_quota integer not null default 1 check (vm_quota >= 0),
  vm_quota_period_end timestamptz null,
  created_at timestamptz not null default now(),
  constraint users_email_unique unique (email),
  constraint users_forge_id_unique unique (forge_id),
  constraint users_api_token_hash_unique unique (api_token_hash)
);`);
    this.addSql(`
create table billing (
  user_id uuid primary key references users (id) on delete cascade,
  credit_balance_cents bigint not null default 0,
  currency varchar(3) not null default 'EUR',
  updated_at timestamptz not null default now()
);`);
    this.addSql(`
create table payment_event (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id),
  amount_cents bigint not null,
  currency varchar(3) not null,
  provider text not null,
  provider_ref text not null,
  kind text not null default 'CREDIT',
  created_at timestamptz not null default now(),
  constraint payment_event_provider_ref_unique unique (provider, provider_ref)
);`);
    this.addSql('create index payment_event_user_id_index on payment_event (user_id);');
    this.addSql(`
create table pool_vm (
  id text primary key,
  name text not null,
  host text null,
  region text null,
  status text not null check (status in ('AVAILABLE', 'MAINTENANCE', 'RETIRED')),
  cockpit_url text null,
  active_allocation_id uuid null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);`);
    // Free-VM lookup: AVAILABLE and not held by an active allocation.
    this.addSql(
      "create index pool_vm_free_index on pool_vm (id) where status = 'AVAILABLE' and active_allocation_id is null;",
    );
    this.addSql(`
create table vm_allocation (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id),
  pool_vm_id text not null references pool_vm (id),
  provisioner text not null,
  status text not null default 'ACTIVE' check (status in ('ACTIVE', 'RELEASED')),
  allocated_at timestamptz not null default now(),
  expires_at timestamptz not null,
  released_at timestamptz null,
  release_reason text null check (release_reason in ('USER', 'ADMIN', 'EXPIRED')),
  cockpit_url text null,
  constraint vm_allocation_released_consistent check (
    (status = 'ACTIVE' and released_at is null and release_reason is null)
    or (status = 'RELEASED' and released_at is not null and release_reason is not null)
  )
);`);
    // One ACTIVE allocation per pool VM, whatever the concurrency.
    this.addSql(
      "create unique index vm_allocation_one_active_per_vm on vm_allocation (pool_vm_id) where status = 'ACTIVE';",
    );
    // Auto-release scans only what is still active: cost follows the active rows, not the table.
    this.addSql(
      "create index vm_allocation_active_expires_at_index on vm_allocation (expires_at) where status = 'ACTIVE';",
    );
    this.addSql('create index vm_allocation_user_id_status_index on vm_allocation (user_id, status);');
    this.addSql(
      'create index vm_allocation_allocated_at_index on vm_allocation (allocated_at desc, id desc);',
    );
    this.addSql(`
create table consumed_record (
  idempotency_key text primary key,
  user_id uuid not null,
  node_name text not null,
  cost_cents bigint not null,
  applied_at timestamptz not null default now()
);`);
    this.addSql('create index consumed_record_user_id_index on consumed_record (user_id);');
    this.addSql(`
create table aggregator_node_state (
  node_name text primary key,
  last_commit_sha text null,
  last_run_at timestamptz null,
  records_consumed_total bigint not null default 0,
  last_error text null
);`);
    this.addSql(`
create table rejected_usage_record (
  id bigserial primary key,
  idempotency_key text null,
  node_name text not null,
  file_path text not null,
  reason text not null,
  record jsonb not null,
  created_at timestamptz not null default now()
);`);
    this.addSql('create index rejected_usage_record_key_index on rejected_usage_record (idempotency_key);');
    this.addSql(`
create table job_run (
  id bigserial primary key,
  job text not null,
  trigger text not null check (trigger in ('SCHEDULE', 'MANUAL')),
  host text not null,
  pid integer not null,
  started_at timestamptz not null default now(),
  finished_at timestamptz null,
  status text not null check (status in ('RUNNING', 'SUCCEEDED', 'FAILED', 'SKIPPED')),
  summary jsonb null,
  error text null
);`);
    this.addSql('create index job_run_job_started_at_index on job_run (job, started_at);');
    this.addSql(`
create table outbox (
  id bigserial primary key,
  topic text not null,
  payload jsonb not null,
  dedupe_key text null,
  status text not null default 'PENDING' check (status in ('PENDING', 'DONE', 'FAILED')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_error text null,
  created_at timestamptz not null default now(),
  done_at timestamptz null,
  constraint outbox_dedupe_key_unique unique (dedupe_key)
);`);
    this.addSql(
      "create index outbox_pending_index on outbox (next_attempt_at, id) where status = 'PENDING';",
    );
  }

  override down(): void {
    for (const table of [
      'outbox',
      'job_run',
      'rejected_usage_record',
      'aggregator_node_state',
      'consumed_record',
      'vm_allocation',
      'pool_vm',
      'payment_event',
      'billing',
      'users',
    ]) {
      this.addSql(`drop table if exists ${table} cascade;`);
    }
  }
}
