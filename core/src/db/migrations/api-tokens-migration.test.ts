import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../auth/tokens.ts';
import { createTestDatabase, type TestDatabase } from '../../testing/database.ts';
import { connectOrm } from '../connect.ts';
import { migrate } from '../migrate.ts';
import { Migration20261205000000_api_tokens } from './Migration20261205000000_api_tokens.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe('the api_token migration', () => {
  it("copies each user's api_token_hash into a token named 'default' and drops the column", async () => {
    const orm = await connectOrm({ databaseUrl: db.url, poolMax: 2, timeoutMs: 1 });
    try {
      // Back to just before it (later migrations are reverted first), then forward again.
      const reverted: string[] = [];
      while (reverted.at(-1) !== Migration20261205000000_api_tokens.name) {
        const [last] = await orm.migrator.down();
        if (!last) throw new Error(`never reached the api_token migration (reverted ${reverted.join(', ')})`);
        reverted.push(last.name);
      }
      const withToken = randomUUID();
      const without = randomUUID();
      await db.query(
        `insert into users (id, email, display_name, api_token_hash, created_at)
         values ($1, 'old@example.org', 'Old', $2, '2026-11-01T00:00:00Z'), ($3, 'none@example.org', 'None', null, now())`,
        [withToken, hashToken('hero_old-token'), without],
      );

      expect(await migrate(orm)).toEqual(reverted.toReversed());
      const tokens = await db.query(
        'select user_id, name, token_hash, created_at, expires_at, last_used_at, revoked_at from api_token',
      );
      expect(tokens).toEqual([
        {
          user_id: withToken,
          name: 'default',
          token_hash: hashToken('hero_old-token'),
          created_at: new Date('2026-11-01T00:00:00Z'),
          expires_at: null,
          last_used_at: null,
          revoked_at: null,
        },
      ]);
      const columns = await db.query(
        `select column_name from information_schema.columns where table_name = 'users' and column_name = 'api_token_hash'`,
      );
      expect(columns).toEqual([]);
    } finally {
      await orm.close();
    }
  });
});
