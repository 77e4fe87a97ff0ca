import { describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../errors.ts';
import { useTestDatabase } from '../testing/database.ts';
import { createTestUser, creditUser } from '../testing/factories.ts';
import { adjustBalance, lockBilling, postLedgerEntry } from './ledger.ts';

const t = useTestDatabase({ poolMax: 8 });
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

const balanceOf = async (userId: string) =>
  Number(
    (await t.query('select credit_balance_cents from billing where user_id = $1', [userId]))[0]
      .credit_balance_cents,
  );

describe('postLedgerEntry', () => {
  it('moves the balance and records the balance after, entry by entry', async () => {
    const user = await createTestUser(t.em());
    const posted = await t
      .em()
      .transactional(async (tx) => [
        await postLedgerEntry(tx, { userId: user.id, kind: 'PAYMENT', amountCents: 1000 }),
        await postLedgerEntry(tx, { userId: user.id, kind: 'USAGE', amountCents: -250, reference: 'r1' }),
        await postLedgerEntry(tx, { userId: user.id, kind: 'ADJUSTMENT', amountCents: -900, note: 'why' }),
      ]);
    expect(posted.map((p) => p?.balanceAfterCents)).toEqual([1000, 750, -150]);
    expect(posted.every((p) => p?.currency === 'EUR')).toBe(true);
    expect(await balanceOf(user.id)).toBe(-150);
  });

  it('answers null, and writes nothing, for a user without a billing row', async () => {
    const posted = await t
      .em()
      .transactional((tx) => postLedgerEntry(tx, { userId: UNKNOWN, kind: 'PAYMENT', amountCents: 5 }));
    expect(posted).toBeNull();
    expect(await t.query('select 1 from ledger_entry where user_id = $1', [UNKNOWN])).toEqual([]);
  });

  it('refuses an amount that is not a whole number of cents', async () => {
    const user = await createTestUser(t.em());
    for (const amountCents of [0.5, Number.NaN, 2 ** 53])
      await expect(
        t.em().transactional((tx) => postLedgerEntry(tx, { userId: user.id, kind: 'PAYMENT', amountCents })),
      ).rejects.toThrow(/whole number of cents/);
    expect(await balanceOf(user.id)).toBe(0);
  });

  it('rolls back with the caller’s transaction', async () => {
    const user = await createTestUser(t.em());
    await expect(
      t.em().transactional(async (tx) => {
        await postLedgerEntry(tx, { userId: user.id, kind: 'PAYMENT', amountCents: 700 });
        throw new Error('later step failed');
      }),
    ).rejects.toThrow('later step failed');
    expect(await balanceOf(user.id)).toBe(0);
    expect(await t.query('select 1 from ledger_entry where user_id = $1', [user.id])).toEqual([]);
  });
});

describe('lockBilling', () => {
  it('reads the balance and currency, null for no such user', async () => {
    const user = await createTestUser(t.em(), { currency: 'USD' });
    await creditUser(t.em(), user.id, 4321, { currency: 'USD' });
    expect(await t.em().transactional((tx) => lockBilling(tx, user.id))).toEqual({
      balanceCents: 4321,
      currency: 'USD',
    });
    expect(await t.em().transactional((tx) => lockBilling(tx, UNKNOWN))).toBeNull();
  });
});

describe('adjustBalance', () => {
  it('credits or debits with the reason as note, and may go below zero', async () => {
    const user = await createTestUser(t.em());
    await creditUser(t.em(), user.id, 100);
    const debit = await adjustBalance(t.em(), {
      userId: user.id,
      amountCents: -300,
      note: '  goodwill reversal  ',
    });
    expect(debit).toMatchObject({
      kind: 'ADJUSTMENT',
      amountCents: -300,
      balanceAfterCents: -200,
      note: 'goodwill reversal',
    });
    const credit = await adjustBalance(t.em(), { userId: user.id, amountCents: 50, note: 'refund of fee' });
    expect(credit.balanceAfterCents).toBe(-150);
    expect(await balanceOf(user.id)).toBe(-150);
  });

  it('accepts ±10^12 cents and refuses 0, fractions and anything larger', async () => {
    const user = await createTestUser(t.em());
    await adjustBalance(t.em(), { userId: user.id, amountCents: 1e12, note: 'max' });
    await adjustBalance(t.em(), { userId: user.id, amountCents: -1e12, note: 'min' });
    for (const amountCents of [0, 0.5, 1e12 + 1, -1e12 - 1]) {
      const err = await adjustBalance(t.em(), { userId: user.id, amountCents, note: 'x' }).catch((e) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.problems.map((p: { path: string }) => p.path)).toEqual(['amountCents']);
    }
    expect(await balanceOf(user.id)).toBe(0);
  });

  it('needs a reason of 1 to 1000 characters; both problems are listed together', async () => {
    const user = await createTestUser(t.em());
    for (const note of ['', '   ', 'n'.repeat(1001)]) {
      const err = await adjustBalance(t.em(), { userId: user.id, amountCents: 1, note }).catch((e) => e);
      expect(err.problems).toEqual([{ path: 'note', message: 'must say why, in 1 to 1000 characters' }]);
    }
    const both = await adjustBalance(t.em(), { userId: user.id, amountCents: 0, note: '' }).catch((e) => e);
    expect(both.problems.map((p: { path: string }) => p.path)).toEqual(['amountCents', 'note']);
  });

  it('answers NOT_FOUND for an unknown user and for an id that is not a UUID', async () => {
    for (const userId of [UNKNOWN, 'nope'])
      await expect(adjustBalance(t.em(), { userId, amountCents: 1, note: 'x' })).rejects.toBeInstanceOf(
        NotFoundError,
      );
  });
});
