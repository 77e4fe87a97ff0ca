import { describe, expect, it } from 'vitest';
import { releaseAllocation } from '../allocation/release-allocation.ts';
import { hashToken } from '../auth/tokens.ts';
import { Billing } from '../entities/billing.entity.ts';
import { User } from '../entities/user.entity.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { useTestDatabase } from '../testing/database.ts';
import { addPoolVms, allocateTestVm, createTestUser, uniqueTag } from '../testing/factories.ts';
import { createUser } from './create-user.ts';
import { lockUser } from './lock-user.ts';
import { setUserQuota } from './set-user-quota.ts';

const t = useTestDatabase();

const problemsOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ValidationError) return err.problems;
    throw err;
  }
  throw new Error('expected a ValidationError');
};

describe('createUser', () => {
  it('stores the email trimmed and lower-cased, no plan (quota 0), an empty balance in the currency', async () => {
    const tag = uniqueTag();
    const { user, token } = await createUser(t.em(), {
      email: `  Mixed.Case-${tag}@Example.ORG `,
      displayName: '  Ada  ',
      currency: 'CHF',
    });
    expect(user.email).toBe(`mixed.case-${tag}@example.org`);
    expect(user.displayName).toBe('Ada');
    expect(user).toMatchObject({ vmQuota: 0, vmQuotaPeriodEnd: null });
    expect(token.length).toBeGreaterThan(20);
    const billing = await t.em().findOneOrFail(Billing, { user: user.id });
    expect(billing).toMatchObject({ creditBalanceCents: 0, currency: 'CHF' });
  });

  it('keeps only a hash of the API token', async () => {
    const { user, token } = await createUser(t.em(), {
      email: `hash-${uniqueTag()}@example.org`,
      displayName: 'H',
    });
    const tokens = await t.query<{ name: string; token_hash: string }>(
      'select name, token_hash from api_token where user_id = $1',
      [user.id],
    );
    expect(tokens).toHaveLength(1);
    expect(tokens[0].name).toBe('created by operator');
    expect(tokens[0].token_hash).toBe(hashToken(token));
    expect(tokens[0].token_hash).not.toContain(token);
  });

  it('defaults the billing currency to EUR', async () => {
    const user = await createTestUser(t.em());
    expect(await t.em().findOneOrFail(Billing, { user: user.id })).toMatchObject({ currency: 'EUR' });
  });

  it('refuses a registered email, in any case, as a validation problem on email', async () => {
    const email = `taken-${uniqueTag()}@example.org`;
    await createTestUser(t.em(), { email });
    expect(
      await problemsOf(createUser(t.em(), { email: email.toUpperCase(), displayName: 'Again' })),
    ).toEqual([{ path: 'email', message: 'is already registered' }]);
    expect(await t.query('select 1 from users where email = $1', [email])).toHaveLength(1);
  });

  it('lets exactly one of two concurrent sign-ups with one email through', async () => {
    const email = `race-${uniqueTag()}@example.org`;
    const results = await Promise.allSettled([
      createUser(t.em(), { email, displayName: 'A' }),
      createUser(t.em(), { email, displayName: 'B' }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(ValidationError);
  });

  it('lists every problem of an invalid input and writes nothing', async () => {
    const before = await t.query<{ n: number }>('select count(*)::int as n from users');
    expect(await problemsOf(createUser(t.em(), { email: 'not-an-email', displayName: '   ' }))).toEqual([
      { path: 'email', message: 'must be a valid email address' },
      { path: 'displayName', message: 'must not be empty' },
    ]);
    const long = await problemsOf(
      createUser(t.em(), { email: `x-${uniqueTag()}@example.org`, displayName: 'x'.repeat(201) }),
    );
    expect(long).toEqual([{ path: 'displayName', message: 'must be at most 200 characters' }]);
    expect(await t.query('select count(*)::int as n from users')).toEqual(before);
  });

  it('refuses a currency that is not a three-letter code, and stores any case upper-cased', async () => {
    const before = await t.query<{ n: number }>('select count(*)::int as n from users');
    for (const currency of ['EURO', 'E1', ''])
      expect(
        await problemsOf(
          createUser(t.em(), { email: `c-${uniqueTag()}@example.org`, displayName: 'C', currency }),
        ),
      ).toEqual([{ path: 'currency', message: 'must be a three-letter ISO 4217 code, e.g. EUR' }]);
    expect(await t.query('select count(*)::int as n from users')).toEqual(before);
    const { user } = await createUser(t.em(), {
      email: `c-${uniqueTag()}@example.org`,
      displayName: 'C',
      currency: 'chf',
    });
    const billing = await t.em().fork().findOneOrFail(Billing, { user: user.id });
    expect(billing.currency).toBe('CHF');
  });
});

describe('setUserQuota', () => {
  it('sets the quota and the period end, and clears the end with null', async () => {
    const user = await createTestUser(t.em());
    const end = new Date('2031-01-01T00:00:00Z');
    const updated = await setUserQuota(t.em(), { userId: user.id, vmQuota: 7, periodEnd: end });
    expect(updated).toMatchObject({ vmQuota: 7, vmQuotaPeriodEnd: end });
    await setUserQuota(t.em(), { userId: user.id, vmQuota: 0, periodEnd: null });
    const stored = await t.em().findOneOrFail(User, user.id);
    expect(stored).toMatchObject({ vmQuota: 0, vmQuotaPeriodEnd: null });
  });

  it("re-dates the user's ACTIVE allocations to a new period end, not released ones or others'", async () => {
    await addPoolVms(t.em(), 3);
    const user = await createTestUser(t.em(), { vmQuota: 2, periodEnd: new Date(Date.now() + 3_600_000) });
    const other = await createTestUser(t.em(), { vmQuota: 1, periodEnd: new Date(Date.now() + 3_600_000) });
    const kept = await allocateTestVm(t.em(), user.id);
    const released = await allocateTestVm(t.em(), user.id);
    const others = await allocateTestVm(t.em(), other.id);
    await releaseAllocation(t.em(), { allocationId: released.id, reason: 'USER' });
    const end = new Date('2031-03-01T00:00:00Z');
    await setUserQuota(t.em(), { userId: user.id, vmQuota: 2, periodEnd: end });
    const ends = async (id: string) =>
      (await t.query<{ expires_at: Date }>('select expires_at from vm_allocation where id = $1', [id]))[0]
        .expires_at;
    expect(await ends(kept.id)).toEqual(end);
    expect(await ends(released.id)).toEqual(released.expiresAt);
    expect(await ends(others.id)).toEqual(others.expiresAt);
    // Clearing the period end leaves running allocations on the end they have.
    await setUserQuota(t.em(), { userId: user.id, vmQuota: 2, periodEnd: null });
    expect(await ends(kept.id)).toEqual(end);
  });

  it('accepts the bounds 0 and 10000 and refuses anything else with the field named', async () => {
    const user = await createTestUser(t.em());
    for (const ok of [0, 10_000])
      expect((await setUserQuota(t.em(), { userId: user.id, vmQuota: ok, periodEnd: null })).vmQuota).toBe(
        ok,
      );
    for (const bad of [-1, 10_001, 1.5, Number.NaN]) {
      expect(
        await problemsOf(setUserQuota(t.em(), { userId: user.id, vmQuota: bad, periodEnd: null })),
      ).toEqual([{ path: 'vmQuota', message: 'must be a whole number from 0 to 10000' }]);
    }
    expect(
      await problemsOf(setUserQuota(t.em(), { userId: user.id, vmQuota: 1, periodEnd: new Date('nope') })),
    ).toEqual([{ path: 'periodEnd', message: 'must be a valid date-time' }]);
  });

  it('answers NOT_FOUND for an unknown user and for an id that is not a UUID', async () => {
    for (const userId of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const call = setUserQuota(t.em(), { userId, vmQuota: 1, periodEnd: null });
      await expect(call).rejects.toBeInstanceOf(NotFoundError);
    }
  });
});

describe('lockUser', () => {
  it('reads the quota, the period end as a Date, the status and whether the email is verified, undefined for no such user', async () => {
    const end = new Date('2030-06-01T12:00:00Z');
    const user = await createTestUser(t.em(), { vmQuota: 3, periodEnd: end });
    const locked = await t.em().transactional((tx) => lockUser(tx, user.id));
    expect(locked).toEqual({ vm_quota: 3, vm_quota_period_end: end, status: 'active', email_verified: true });
    const none = await t.em().transactional((tx) => lockUser(tx, '00000000-0000-4000-8000-000000000000'));
    expect(none).toBeUndefined();
  });

  it('makes a second holder wait until the first transaction ends', async () => {
    const user = await createTestUser(t.em());
    const order: string[] = [];
    let releaseFirst!: () => void;
    const gate = new Promise<void>((r) => {
      releaseFirst = r;
    });
    let firstHolds!: () => void;
    const holding = new Promise<void>((r) => {
      firstHolds = r;
    });
    const first = t.em().transactional(async (tx) => {
      await lockUser(tx, user.id);
      firstHolds();
      await gate;
      order.push('first done');
    });
    await holding;
    const second = t.em().transactional(async (tx) => {
      await lockUser(tx, user.id);
      order.push('second locked');
    });
    await new Promise((r) => setTimeout(r, 150));
    expect(order).toEqual([]);
    releaseFirst();
    await Promise.all([first, second]);
    expect(order).toEqual(['first done', 'second locked']);
  });

  it('answers undefined, not a raw 22P02 error, for an id that is not a UUID', async () => {
    expect(await t.em().transactional((tx) => lockUser(tx, 'nope'))).toBeUndefined();
  });
});
