import { Migration } from '@mikro-orm/migrations';

/**
 * The billing-repository commit each consumed usage record was read at, so a statement can trace
 * every usage line to its commit and file. Records consumed before this migration keep null:
 * their commit is not known (the file's current commit in usage_file_state may be a later one).
 */
export class Migration20261204300000_consumed_record_commit extends Migration {
  override name = 'Migration20261204300000_consumed_record_commit';

  override up(): void {
    // Nullable without a default: adding it rewrites no row of a large table.
    this.addSql('alter table consumed_record add column commit_sha text;');
  }

  override down(): void {
    this.addSql('alter table consumed_record drop column if exists commit_sha;');
  }
}
