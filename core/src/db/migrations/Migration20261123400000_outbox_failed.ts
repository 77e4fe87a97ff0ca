import { Migration } from '@mikro-orm/migrations';

/**
 * `/metrics` counts the outbox events that gave up (FAILED) at every scrape, on every process:
 * a partial index keeps that count to the failed rows, however many delivered (DONE) rows the
 * outbox accumulates.
 */
export class Migration20261123400000_outbox_failed extends Migration {
  override name = 'Migration20261123400000_outbox_failed';

  override up(): void {
    this.addSql("create index outbox_failed_index on outbox (topic) where status = 'FAILED';");
  }

  override down(): void {
    this.addSql('drop index if exists outbox_failed_index;');
  }
}
