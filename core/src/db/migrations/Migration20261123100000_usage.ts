import { Migration } from '@mikro-orm/migrations';

/**
 * Usage aggregation: what a consumed record keeps of its usage record, the per-file progress
 * of the aggregator (blob sha of every applied file, so only changed files are read again),
 * a fingerprint that stores each rejected record once however often its file is re-read, and
 * live progress on job runs.
 */
export class Migration20261123100000_usage extends Migration {
  override name = 'Migration20261123100000_usage';

  override up(): void {
    this.addSql(`
alter table consumed_record
  add column file_path text not null default '',
  add column resource text not null default '',
  add column quantity double precision not null default 0,
  add column period_start timestamptz null,
  add column period_end timestamptz null,
  add column allocation_id uuid null;`);
    this.addSql('alter table consumed_record alter column file_path drop default;');
    // No index on applied_at: every index costs the apply path (the aggregator inserts millions of
    // rows); the newest-first admin feed sorts (about 0.3 s per million rows).

    this.addSql(`
create table usage_file_state (
  node_name text not null,
  path text not null,
  blob_sha text not null,
  commit_sha text not null,
  records integer not null,
  applied_at timestamptz not null default now(),
  primary key (node_name, path)
);`);

    this.addSql(`
alter table aggregator_node_state
  add column last_success_at timestamptz null,
  add column files_total integer not null default 0;`);

    this.addSql(`
alter table rejected_usage_record
  add column fingerprint text null,
  add column user_id text null;`);
    this.addSql(
      'create unique index rejected_usage_record_fingerprint_unique on rejected_usage_record (fingerprint);',
    );
    this.addSql(
      'create index rejected_usage_record_created_at_index on rejected_usage_record (created_at desc, id);',
    );

    this.addSql('alter table job_run add column progress jsonb null;');

    // Every applied batch updates the balance of each user it touches: leave room on each page
    // so those updates stay HOT (no index entry, no new page).
    this.addSql('alter table billing set (fillfactor = 50);');
  }

  override down(): void {
    this.addSql('alter table billing reset (fillfactor);');
    this.addSql('alter table job_run drop column if exists progress;');
    this.addSql('drop index if exists rejected_usage_record_created_at_index;');
    this.addSql('drop index if exists rejected_usage_record_fingerprint_unique;');
    this.addSql(
      'alter table rejected_usage_record drop column if exists fingerprint, drop column if exists user_id;',
    );
    this.addSql(
      'alter table aggregator_node_state drop column if exists last_success_at, drop column if exists files_total;',
    );
    this.addSql('drop table if exists usage_file_state;');
    this.addSql(`
alter table consumed_record
  drop column if exists file_path,
  drop column if exists resource,
  drop column if exists quantity,
  drop column if exists period_start,
  drop column if exists period_end,
  drop column if exists allocation_id;`);
  }
}
