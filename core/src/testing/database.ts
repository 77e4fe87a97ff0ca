/**
 * A database of its own for a test file: a clone of the run's migrated template, on the server
 * the vitest global setup chose (TEST_DATABASE_URL, else 127.0.0.1:5432, else an embedded
 * PostgreSQL started for the run; see test/support/global-setup.ts). The in-process domain
 * tests beside the code and the process-level tests under test/ both use it.
 */
import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { createOrm, type MikroORM } from '../db/orm.ts';
import {
  createDatabaseFromTemplate,
  dropDatabase,
  waitForNoConnections,
  withDatabase,
} from './postgres-admin.ts';

/** What the global setup provides to every test file. */
export interface TestDatabaseContext {
  /** The server's maintenance database URL. */
  pgAdminUrl: string;
  /** The migrated database every test database is cloned from. */
  pgTemplate: string;
  /** `<epoch seconds>_<random>`: names this run's databases, so stale ones can be reaped by age. */
  pgRunId: string;
  pgEmbedded: boolean;
}

declare module 'vitest' {
  export interface ProvidedContext extends TestDatabaseContext {}
}

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

export interface DomainTestDatabase {
  /** The test database (its URL and a pg pool for assertions in SQL). */
  readonly db: TestDatabase;
  readonly orm: MikroORM;
  /** A fresh EntityManager, as each request and job run gets one. */
  em(): EntityManager;
  query: TestDatabase['query'];
}

/**
 * For an in-process test file: a database of its own and an ORM on it, opened before the
 * file's tests and closed and dropped after them. Tests of one file share it, so each test
 * makes its own users and VMs (testing/factories.ts) rather than counting on an empty table.
 */
export function useTestDatabase(options: { poolMax?: number } = {}): DomainTestDatabase {
  let db: TestDatabase | undefined;
  let orm: MikroORM | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    orm = await createOrm({ databaseUrl: db.url, poolMax: options.poolMax ?? 4 });
  });
  afterAll(async () => {
    await orm?.close();
    await db?.drop();
  });
  const opened = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useTestDatabase: the database is opened in beforeAll');
    return value;
  };
  return {
    get db() {
      return opened(db);
    },
    get orm() {
      return opened(orm);
    },
    em: () => opened(orm).em.fork(),
    query: (text, params) => opened(db).query(text, params),
  };
}
