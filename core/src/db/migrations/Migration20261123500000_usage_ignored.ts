import { Migration } from '@mikro-orm/migrations';

/**
 * Files under a node's directory that the aggregator does not read (misnamed, in a
 * sub-directory): their count and the first of them with the reason, as found when the node
 * was last read, so runs that skip the node still report them.
 */
export class Migration20261123500000_usage_ignored extends Migration {
  override name = 'Migration20261123500000_usage_ignored';

  override up(): void {
    this.addSql(`
alter table aggregator_node_state
  add column ignored_files integer not null default 0,
  add column ignored_file_list jsonb not null default '[]';`);
  }

  override down(): void {
    this.addSql(
      'alter table aggregator_node_state drop column if exists ignored_files, drop column if exists ignored_file_list;',
    );
  }
}
