import { Migration } from '@mikro-orm/migrations';

/**
 * An operator's extensions of single allocations, with the reason: the allocation's history of
 * its end, kept beside it (the allocation row holds only the current end).
 */
export class Migration20261203000000_allocation_extension extends Migration {
  override name = 'Migration20261203000000_allocation_extension';

  override up(): void {
    this.addSql(`
create table allocation_extension (
  id uuid primary key default gen_random_uuid(),
  allocation_id uuid not null references vm_allocation (id),
  previous_expires_at timestamptz not null,
  expires_at timestamptz not null,
  reason text not null,
  created_at timestamptz not null default now()
);
create index allocation_extension_allocation_idx on allocation_extension (allocation_id, created_at);`);
  }

  override down(): void {
    this.addSql('drop table if exists allocation_extension;');
  }
}
