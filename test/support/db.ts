import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { adminQuery, createDatabaseFromTemplate, dropDatabase, withDatabase } from './postgres.ts';

export interface TestDatabase {
  name: string;
  url: string;
  /** A small pg pool on the test database, for assertions straight in SQL. */
  sql: pg.Pool;
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

/**
 * A fresh, migrated database of its own (a clone of the run's template), for one test file or
 * one test. Dropped by `drop()`, or at the end of the run at the latest.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('pgAdminUrl');
  const name = `hero_t_${inject('pgRunId')}_${process.pid}_${randomBytes(3).toString('hex')}`;
  await createDatabaseFromTemplate(adminUrl, name, inject('pgTemplate'));
  const url = withDatabase(adminUrl, name);
  const sql = new pg.Pool({ connectionString: url, max: 4 });
  return {
    name,
    url,
    sql,
    query: async (text, params = []) => (await sql.query(text, params)).rows,
    drop: async () => {
      await sql.end();
      // pg's end() resolves before the server has seen every connection go; a forced drop then
      // would terminate a closing connection, whose FATAL error nobody listens to any more (an
      // unhandled error in vitest). Give closing connections a moment to leave first.
      await waitForNoConnections(adminUrl, name);
      await dropDatabase(adminUrl, name);
    },
  };
}

/** Waits (up to `timeoutMs`) until no session is connected to `database`. */
async function waitForNoConnections(adminUrl: string, database: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [{ n }] = await adminQuery<{ n: number }>(
      adminUrl,
      'select count(*)::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [database],
    );
    if (n === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
