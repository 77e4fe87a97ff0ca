import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../testing/database.ts';
import { connectOrm } from '../connect.ts';
import { migrate } from '../migrate.ts';
import { Migration20261207000000_email_verification } from './Migration20261207000000_email_verification.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe('the email verification migration', () => {
  it('counts the users that exist already as verified', async () => {
    const orm = await connectOrm({ databaseUrl: db.url, poolMax: 2, timeoutMs: 1 });
    try {
      // Back to just before it (later migrations are reverted first), then forward again.
      const reverted: string[] = [];
      while (reverted.at(-1) !== Migration20261207000000_email_verification.name) {
        const [last] = await orm.migrator.down();
        if (!last) throw new Error(`never reached the migration (reverted ${reverted.join(', ')})`);
        reverted.push(last.name);
      }
      const existing = randomUUID();
      await db.query(
        `insert into users (id, email, display_name) values ($1, 'before@example.org', 'Before')`,
        [existing],
      );
      expect(await migrate(orm)).toEqual(reverted.toReversed());
      const [row] = await db.query<{ verified: boolean }>(
        'select email_verified_at is not null as verified from users where id = $1',
        [existing],
      );
      expect(row).toEqual({ verified: true });
    } finally {
      await orm.close();
    }
  });
});
