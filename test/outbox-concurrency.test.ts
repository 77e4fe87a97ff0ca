import { randomUUID } from 'node:crypto';
import { createOrm, type MikroORM } from '@hero/core/db/orm';
import { createLogger } from '@hero/core/lib/logger';
import { deliverOutbox, type OutboxRow } from '@hero/core/outbox/deliver-outbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { startFakeDeployer, waitFor } from './support/fake-deployer.ts';
import { spawnTs } from './support/process.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

/** Inserts `count` due vm.release events (the outbox has no foreign keys: a payload is enough). */
async function insertReleaseEvents(count: number, prefix: string): Promise<{ id: string; payload: any }[]> {
  const payloads = Array.from({ length: count }, (_, i) => ({
    poolVmId: `${prefix}-${String(i + 1).padStart(3, '0')}`,
    allocationId: randomUUID(),
    userId: randomUUID(),
    reason: 'ADMIN',
    releasedAt: new Date().toISOString(),
  }));
  return db.query(
    `insert into outbox (topic, payload, dedupe_key)
       select 'vm.release', p, 'vm.release:' || (p->>'allocationId') from jsonb_array_elements($1::jsonb) as p
     returning id, payload`,
    [JSON.stringify(payloads)],
  );
}

describe('concurrent outbox delivery', () => {
  it('two deliverOutbox loops at once share the events through SKIP LOCKED: each is handled once', async () => {
    const events = await insertReleaseEvents(20, 'inproc');
    const orm: MikroORM = await createOrm({ databaseUrl: db.url, poolMax: 6 });
    try {
      const handled: { runner: string; id: number }[] = [];
      const handler = (runner: string) => async (row: OutboxRow) => {
        handled.push({ runner, id: row.id });
        await new Promise((r) => setTimeout(r, 25));
      };
      const log = createLogger({ name: 'test', level: 'silent', pretty: false });
      const options = (runner: string) => ({
        handlers: { 'vm.release': handler(runner) },
        maxAttempts: 3,
        baseBackoffMs: 1000,
        log,
      });
      const [a, b] = await Promise.all([
        deliverOutbox(orm.em.fork(), options('a')),
        deliverOutbox(orm.em.fork(), options('b')),
      ]);
      expect(a.delivered + b.delivered).toBe(20);
      // Both made progress at the same time (neither waited for the other's lock).
      expect(a.delivered).toBeGreaterThan(0);
      expect(b.delivered).toBeGreaterThan(0);
      expect(handled.map((h) => h.id).sort((x, y) => x - y)).toEqual(
        events.map((e) => Number(e.id)).sort((x, y) => x - y),
      );
      const rows = await db.query(
        "select status, attempts from outbox where payload->>'poolVmId' like 'inproc-%'",
      );
      expect(rows.every((r) => r.status === 'DONE' && r.attempts === 1)).toBe(true);
    } finally {
      await orm.close();
    }
  });

  it('two outbox workers against 20 pending events: the deployer gets each event exactly once', async () => {
    const events = await insertReleaseEvents(20, 'twin');
    const deployer = await startFakeDeployer(() => ({ status: 200, delayMs: 30 }));
    const env = { DATABASE_URL: db.url, DEPLOYER_URL: deployer.url, OUTBOX_INTERVAL_MS: '100' };
    const workers = [
      spawnTs('workers/src/main.ts', ['outbox'], env),
      spawnTs('workers/src/main.ts', ['outbox'], env),
    ];
    try {
      await Promise.all(workers.map((w) => w.waitForLine(/outbox worker started/, 60_000)));
      await waitFor(
        async () =>
          Number(
            (
              await db.query(
                "select count(*)::int as n from outbox where status = 'DONE' and payload->>'poolVmId' like 'twin-%'",
              )
            )[0].n,
          ) === 20,
        30_000,
        'all 20 events DONE',
      );
      // Let both workers tick a few more times: nothing may be sent again.
      await new Promise((r) => setTimeout(r, 600));

      expect(deployer.calls).toHaveLength(20);
      for (const event of events) {
        const calls = deployer.callsFor(`outbox-${event.id}`);
        expect(calls).toHaveLength(1);
        expect(calls[0].body).toEqual({
          pool_vm_id: event.payload.poolVmId,
          allocation_id: event.payload.allocationId,
          user_id: event.payload.userId,
          reason: 'ADMIN',
          released_at: event.payload.releasedAt,
        });
      }
      const rows = await db.query(
        "select status, attempts from outbox where payload->>'poolVmId' like 'twin-%'",
      );
      expect(rows).toHaveLength(20);
      expect(rows.every((r) => r.status === 'DONE' && r.attempts === 1)).toBe(true);

      // Both processes ticked; their runs (under the job lock) never overlapped.
      const runs = await db.query<{ pid: number; status: string; started_at: Date; finished_at: Date }>(
        "select pid, status, started_at, finished_at from job_run where job = 'outbox' and status <> 'SKIPPED' order by started_at, id",
      );
      expect(new Set(runs.map((r) => r.pid))).toEqual(new Set(workers.map((w) => w.child.pid)));
      for (let i = 1; i < runs.length; i++) {
        expect(runs[i].started_at.getTime()).toBeGreaterThanOrEqual(runs[i - 1].finished_at.getTime());
      }
    } finally {
      const codes = await Promise.all(workers.map((w) => w.stop()));
      await deployer.stop();
      expect(codes).toEqual([0, 0]);
    }
  });
});
