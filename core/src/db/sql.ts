/**
 * The one way a domain module runs hand-written SQL: a statement written with Kysely's `sql`
 * tag (values interpolated as parameters, never spliced), executed on the EntityManager's
 * connection through `em.getKysely()`, so inside `em.transactional` it runs in that
 * transaction. Native pg stays only where Kysely cannot go (COPY, and the allocation hot path
 * measured by `npm run bench:allocate`).
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { RawBuilder } from 'kysely';

export { sql } from 'kysely';

/** The rows `query` returns on `em`'s connection (its transaction, if it has one). */
export async function rows<Row>(em: EntityManager, query: RawBuilder<Row>): Promise<Row[]> {
  const result = await query.execute(em.getKysely());
  return result.rows as Row[];
}

/** The first row `query` returns, or undefined. */
export async function firstRow<Row>(em: EntityManager, query: RawBuilder<Row>): Promise<Row | undefined> {
  return (await rows(em, query))[0];
}
