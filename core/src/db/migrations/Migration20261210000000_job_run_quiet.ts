import { Migration } from '@mikro-orm/migrations';

/**
 * `job_run.quiet`: whether a run was a scheduled tick that did nothing (see jobs/list-job-runs), stored
 * and indexed. The Jobs page hides quiet runs and counts them; computed per row at read time,
 * that scanned the whole history (about 1.7 s for the page at a million outbox runs, which is
 * two months at its 5-second tick). PostgreSQL keeps the generated column current when a run
 * finishes and its status and summary are written.
 *
 * The summary keys left out count what a run looked at rather than what it did (a tick that saw
 * ten nodes and skipped all ten did nothing); a job that reports a new such counter needs a
 * migration that redefines the column.
 */
export class Migration20261210000000_job_run_quiet extends Migration {
  override name = 'Migration20261210000000_job_run_quiet';

  override up(): void {
    this.addSql(`
alter table job_run add column quiet boolean not null generated always as (
  trigger = 'SCHEDULE' and (status = 'SKIPPED' or (status = 'SUCCEEDED' and (
    summary is null or jsonb_typeof(summary) <> 'object'
    or not jsonb_path_exists(
      summary - array['nodesSeen', 'nodesSkipped', 'rowsExamined', 'ignoredFiles', 'ignoredFileList',
        'usersChecked', 'usageUsersChecked', 'creditReleaseSkipped'],
      'strict $.** ? ((@.type() == "number" && @ != 0) || (@.type() == "array" && @.size() > 0) || @ == true)'))))
) stored;`);
    this.addSql(
      'create index job_run_loud_started_at_index on job_run (started_at desc, id desc) where not quiet;',
    );
    this.addSql('create index job_run_quiet_job_index on job_run (job) where quiet;');
  }

  override down(): void {
    this.addSql('alter table job_run drop column if exists quiet;');
  }
}
