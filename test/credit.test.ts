import { createOrm, type MikroORM } from '@hero/core/db/orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { creditStatusOf, notificationsOf, postUsageDebit } from './support/credit.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { allocate, createUser, poolOf, recordPayment } from './support/factories.ts';
import { waitFor } from './support/fake-deployer.ts';
import { spawnTs } from './support/process.ts';

/** 0.001 h = 3.6 s: long enough to see the warning first, short enough to wait for. */
const CREDIT_ENV = {
  LOW_BALANCE_RUNWAY_DAYS: '3',
  LOW_BALANCE_CENTS: '200',
  NEGATIVE_BALANCE_GRACE_HOURS: '0.001',
};

let db: TestDatabase;
let orm: MikroORM;
let api: ApiProcess;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await createOrm({ databaseUrl: db.url, poolMax: 2 });
  api = await startApi({
    databaseUrl: db.url,
    env: { VM_POOL_JSON: JSON.stringify(poolOf(2, 'cr')), ...CREDIT_ENV },
  });
});
afterAll(async () => {
  await api?.stop();
  await orm?.close();
  await db?.drop();
});

const allocationState = async (id: string) =>
  (
    await db.query<{ status: string; release_reason: string | null }>(
      'select status, release_reason from vm_allocation where id = $1',
      [id],
    )
  )[0];

describe('running out of credit, with the auto-release worker', () => {
  it('low, then negative: warned, released with CREDIT_EXHAUSTED after the grace; a top-up allows a VM again', async () => {
    const worker = spawnTs('workers/src/main.ts', ['auto-release'], {
      DATABASE_URL: db.url,
      AUTO_RELEASE_INTERVAL_MS: '300',
      ...CREDIT_ENV,
    });
    try {
      const started = JSON.parse(await worker.waitForLine(/auto-release worker started/, 60_000));
      expect(started.credit).toEqual({ runwayDays: 3, floorCents: 200, graceHours: 0.001 });

      const user = await createUser(api);
      await recordPayment(api, user.id, 1_000);
      const first = await allocate(api, user.token);
      if (first.__typename !== 'AllocateVmSuccess') throw new Error(JSON.stringify(first));
      const allocationId = first.allocation.id;

      // 700 cents of usage this week: 300 left at 100 a day is 3 days, not below 3; then 150 more.
      await postUsageDebit(orm, user.id, 700);
      expect(await creditStatusOf(api, user.token)).toMatchObject({
        balanceCents: 300,
        usageCentsLast7Days: 700,
        dailyUsageCents: 100,
        runwayDays: 3,
        low: false,
      });
      await postUsageDebit(orm, user.id, 150);
      const low = await waitFor(
        async () => (await notificationsOf(db, user.id)).find((e) => e.topic === 'balance.low'),
        10_000,
        'balance.low',
      );
      expect(low?.payload).toMatchObject({
        userId: user.id,
        balanceCents: 150,
        currency: 'EUR',
        reason: 'FLOOR',
      });
      expect(await creditStatusOf(api, user.token)).toMatchObject({
        low: true,
        lowReason: 'FLOOR',
        negative: false,
      });

      // Below zero: one balance.negative, one warning for the VM, then the release.
      await postUsageDebit(orm, user.id, 200);
      const status = await creditStatusOf(api, user.token);
      expect(status).toMatchObject({ balanceCents: -50, negative: true, graceHours: 0.001 });
      expect(Date.parse(status.releaseAt as string) - Date.parse(status.negativeSince as string)).toBe(3_600);
      expect((await allocate(api, user.token)).__typename).toBe('BalanceNegativeError');

      await waitFor(
        async () => (await allocationState(allocationId)).status === 'RELEASED',
        20_000,
        'the CREDIT_EXHAUSTED release',
      );
      expect(await allocationState(allocationId)).toEqual({
        status: 'RELEASED',
        release_reason: 'CREDIT_EXHAUSTED',
      });
      const events = await notificationsOf(db, user.id);
      const topics = events.map((e) => e.topic);
      expect(topics.filter((t) => t === 'balance.low')).toHaveLength(1);
      expect(topics.filter((t) => t === 'balance.negative')).toHaveLength(1);
      const warning = events.find(
        (e) => e.topic === 'allocation.expiring' && e.payload.reason === 'CREDIT_EXHAUSTED',
      );
      const release = events.find((e) => e.topic === 'vm.release');
      expect(warning?.payload).toMatchObject({ allocationId, releaseAt: status.releaseAt });
      expect(release?.payload).toMatchObject({ allocationId, reason: 'CREDIT_EXHAUSTED' });
      expect(Number(warning?.id)).toBeLessThan(Number(release?.id));
      const negative = events.find((e) => e.topic === 'balance.negative');
      expect(negative?.payload).toMatchObject({ balanceCents: -50, releaseAt: status.releaseAt });
      // Released strictly after the grace ended.
      const [released] = await db.query<{ released_at: Date }>(
        'select released_at from vm_allocation where id = $1',
        [allocationId],
      );
      expect(released.released_at.getTime()).toBeGreaterThanOrEqual(Date.parse(status.releaseAt as string));

      // A top-up ends the grace: a VM again, and it stays.
      await recordPayment(api, user.id, 500);
      expect(await creditStatusOf(api, user.token)).toMatchObject({ negative: false, releaseAt: null });
      const again = await allocate(api, user.token);
      expect(again.__typename).toBe('AllocateVmSuccess');
      await new Promise((r) => setTimeout(r, 5_000));
      if (again.__typename === 'AllocateVmSuccess')
        expect((await allocationState(again.allocation.id)).status).toBe('ACTIVE');
      expect((await notificationsOf(db, user.id)).filter((e) => e.topic === 'balance.negative')).toHaveLength(
        1,
      );
    } finally {
      expect(await worker.stop()).toBe(0);
    }
  });
});
