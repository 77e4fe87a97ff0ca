/**
 * The one way a domain module runs hand-written SQL: a statement written with Kysely's `sql`
 * tag (values interpolated as parameters, never spliced), executed on the EntityManager's
 * connection through `em.getKysely()`, so inside `em.transactional` it runs in that
 * transaction. Native pg stays only where Kysely cannot go or is measurably slower (listed in
 * docs/architecture.md, "Where each table is written").
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type RawBuilder,
} from 'kysely';

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

/** Runs a statement that returns no rows; how many rows it changed. */
export async function execute(em: EntityManager, query: RawBuilder<unknown>): Promise<number> {
  const result = await query.execute(em.getKysely());
  return Number(result.numAffectedRows ?? 0);
}

/** Compiles only: never connects. */
const compiler = new Kysely<unknown>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

/**
 * `query` as pg's `$n` text, for the few statements that run on a native connection: the
 * statement is still written once, with the `sql` tag, next to its Kysely twin.
 */
export function nativeText(query: RawBuilder<unknown>): string {
  return query.compile(compiler).sql;
}
