import { describe, expect, it } from 'vitest';
import {
  CurrencyMismatchError,
  DuplicatePaymentError,
  NotFoundError,
  RefundExceedsPaymentError,
  ValidationError,
} from '../errors.ts';
import { useTestDatabase } from '../testing/database.ts';
import { createTestUser, creditUser, uniqueTag } from '../testing/factories.ts';
import { MAX_AMOUNT_CENTS, recordPayment, refundPayment } from './payments.ts';

const t = useTestDatabase({ poolMax: 12 });
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

const balanceOf = async (userId: string) =>
  Number(
    (await t.query('select credit_balance_cents from billing where user_id = $1', [userId]))[0]
      .credit_balance_cents,
  );
const ledgerOf = (userId: string) =>
  t.query<{ kind: string; amount_cents: string; balance_after_cents: string; reference: string }>(
    'select kind, amount_cents, balance_after_cents, reference from ledger_entry where user_id = $1 order by id',
    [userId],
  );

describe('recordPayment', () => {
  it('credits the balance and appends a PAYMENT ledger row referencing the payment', async () => {
    const user = await createTestUser(t.em());
    const first = await recordPayment(t.em(), { userId: user.id, amountCents: 1250, currency: 'EUR' });
    const second = await recordPayment(t.em(), {
      userId: user.id,
      amountCents: 750,
      currency: ' eur ',
      note: 'top-up',
    });
    expect(first.balanceCents).toBe(1250);
    expect(second).toMatchObject({ balanceCents: 2000, currency: 'EUR' });
    expect(second.payment).toMatchObject({
      amountCents: 750,
      currency: 'EUR',
      kind: 'CREDIT',
      provider: 'manual',
    });
    expect(second.payment.providerRef).toMatch(/^manual-[0-9a-f-]{36}$/);
    expect(await balanceOf(user.id)).toBe(2000);
    expect(await ledgerOf(user.id)).toEqual([
      { kind: 'PAYMENT', amount_cents: '1250', balance_after_cents: '1250', reference: first.payment.id },
      { kind: 'PAYMENT', amount_cents: '750', balance_after_cents: '2000', reference: second.payment.id },
    ]);
  });

  it('refuses a provider reference seen before (DUPLICATE_PAYMENT) and changes nothing', async () => {
    const user = await createTestUser(t.em());
    const ref = `pi_${uniqueTag()}`;
    const first = await recordPayment(t.em(), {
      userId: user.id,
      amountCents: 500,
      currency: 'EUR',
      provider: 'stripe',
      providerRef: ref,
    });
    const again = recordPayment(t.em(), {
      userId: user.id,
      amountCents: 500,
      currency: 'EUR',
      provider: 'stripe',
      providerRef: ` ${ref} `,
    });
    await expect(again).rejects.toBeInstanceOf(DuplicatePaymentError);
    await expect(again).rejects.toMatchObject({ code: 'DUPLICATE_PAYMENT', paymentId: first.payment.id });
    expect(await balanceOf(user.id)).toBe(500);
    expect(await ledgerOf(user.id)).toHaveLength(1);
  });

  it('the same reference under another provider is another payment', async () => {
    const user = await createTestUser(t.em());
    const ref = `ref-${uniqueTag()}`;
    await recordPayment(t.em(), {
      userId: user.id,
      amountCents: 100,
      currency: 'EUR',
      provider: 'stripe',
      providerRef: ref,
    });
    await recordPayment(t.em(), {
      userId: user.id,
      amountCents: 100,
      currency: 'EUR',
      provider: 'bank',
      providerRef: ref,
    });
    expect(await balanceOf(user.id)).toBe(200);
  });

  it('applies one of ten concurrent payments with one reference', async () => {
    const user = await createTestUser(t.em());
    const ref = `race-${uniqueTag()}`;
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () =>
        recordPayment(t.em(), { userId: user.id, amountCents: 300, currency: 'EUR', providerRef: ref }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(DuplicatePaymentError);
    expect(await balanceOf(user.id)).toBe(300);
  });

  it('sums concurrent payments exactly, with an unbroken running balance', async () => {
    const user = await createTestUser(t.em());
    const amounts = [1, 20, 300, 4000, 50000, 7, 89];
    await Promise.all(amounts.map((a) => creditUser(t.em(), user.id, a)));
    const total = amounts.reduce((a, b) => a + b, 0);
    expect(await balanceOf(user.id)).toBe(total);
    let running = 0;
    for (const row of await ledgerOf(user.id)) {
      running += Number(row.amount_cents);
      expect(Number(row.balance_after_cents)).toBe(running);
    }
  });

  it('refuses another currency than the billing one (CURRENCY_MISMATCH), never converting', async () => {
    const user = await createTestUser(t.em(), { currency: 'CHF' });
    const call = recordPayment(t.em(), { userId: user.id, amountCents: 100, currency: 'EUR' });
    await expect(call).rejects.toBeInstanceOf(CurrencyMismatchError);
    await expect(call).rejects.toMatchObject({ expected: 'CHF', received: 'EUR' });
    expect(await balanceOf(user.id)).toBe(0);
  });

  it('refuses bad amounts, currencies, providers and references with every problem named', async () => {
    const user = await createTestUser(t.em());
    const problems = async (input: Partial<Parameters<typeof recordPayment>[1]>) => {
      const err = await recordPayment(t.em(), {
        userId: user.id,
        amountCents: 100,
        currency: 'EUR',
        ...input,
      }).catch((e) => e);
      expect(err).toBeInstanceOf(ValidationError);
      return (err as ValidationError).problems.map((p) => p.path);
    };
    for (const amountCents of [0, -5, 1.5, MAX_AMOUNT_CENTS + 1])
      expect(await problems({ amountCents })).toEqual(['amountCents']);
    for (const currency of ['EU', 'EURO', '€€€', ''])
      expect(await problems({ currency })).toEqual(['currency']);
    expect(await problems({ provider: 'Stripe!' })).toEqual(['provider']);
    expect(await problems({ providerRef: '   ' })).toEqual(['providerRef']);
    expect(await problems({ providerRef: 'x'.repeat(201), note: 'n'.repeat(1001) })).toEqual([
      'providerRef',
      'note',
    ]);
    expect(await balanceOf(user.id)).toBe(0);
  });

  it('accepts the largest amount exactly', async () => {
    const user = await createTestUser(t.em());
    const { balanceCents } = await recordPayment(t.em(), {
      userId: user.id,
      amountCents: MAX_AMOUNT_CENTS,
      currency: 'EUR',
    });
    expect(balanceCents).toBe(MAX_AMOUNT_CENTS);
  });

  it('answers NOT_FOUND for an unknown user and for an id that is not a UUID', async () => {
    for (const userId of [UNKNOWN, 'nope'])
      await expect(
        recordPayment(t.em(), { userId, amountCents: 100, currency: 'EUR' }),
      ).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('refundPayment', () => {
  it('refunds everything left by default, debiting a REFUND ledger row', async () => {
    const user = await createTestUser(t.em());
    const paid = await recordPayment(t.em(), { userId: user.id, amountCents: 1000, currency: 'EUR' });
    const refund = await refundPayment(t.em(), { paymentId: paid.payment.id });
    expect(refund.balanceCents).toBe(0);
    expect(refund.payment).toMatchObject({
      kind: 'REFUND',
      amountCents: 1000,
      providerRef: `${paid.payment.providerRef}:refund:1`,
    });
    expect((await ledgerOf(user.id)).map((r) => [r.kind, r.amount_cents])).toEqual([
      ['PAYMENT', '1000'],
      ['REFUND', '-1000'],
    ]);
  });

  it('refunds in parts up to the payment and no further (REFUND_EXCEEDS_PAYMENT)', async () => {
    const user = await createTestUser(t.em());
    const paid = await recordPayment(t.em(), { userId: user.id, amountCents: 1000, currency: 'EUR' });
    const id = paid.payment.id;
    await refundPayment(t.em(), { paymentId: id, amountCents: 300 });
    const tooMuch = await refundPayment(t.em(), { paymentId: id, amountCents: 701 }).catch((e) => e);
    expect(tooMuch).toBeInstanceOf(RefundExceedsPaymentError);
    expect(tooMuch).toMatchObject({ refundableCents: 700 });
    const rest = await refundPayment(t.em(), { paymentId: id });
    expect(rest.payment.amountCents).toBe(700);
    expect(rest.payment.providerRef).toBe(`${paid.payment.providerRef}:refund:2`);
    const done = await refundPayment(t.em(), { paymentId: id, amountCents: 1 }).catch((e) => e);
    expect(done).toBeInstanceOf(RefundExceedsPaymentError);
    expect(done.message).toMatch(/refunded in full already/);
    expect(await balanceOf(user.id)).toBe(0);
  });

  it('lets the balance go below zero when the money was spent meanwhile', async () => {
    const user = await createTestUser(t.em());
    const paid = await recordPayment(t.em(), { userId: user.id, amountCents: 500, currency: 'EUR' });
    await t.em().transactional(async (tx) => {
      await tx.execute('update billing set credit_balance_cents = 100 where user_id = ?', [user.id]);
    });
    const { balanceCents } = await refundPayment(t.em(), { paymentId: paid.payment.id });
    expect(balanceCents).toBe(-400);
  });

  it('never refunds more than paid under ten concurrent full refunds', async () => {
    const user = await createTestUser(t.em());
    const paid = await recordPayment(t.em(), { userId: user.id, amountCents: 999, currency: 'EUR' });
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => refundPayment(t.em(), { paymentId: paid.payment.id })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(RefundExceedsPaymentError);
    expect(await balanceOf(user.id)).toBe(0);
  });

  it('answers NOT_FOUND for an unknown payment, a non-UUID id and a refund (not a payment)', async () => {
    const user = await createTestUser(t.em());
    const paid = await recordPayment(t.em(), { userId: user.id, amountCents: 500, currency: 'EUR' });
    const refund = await refundPayment(t.em(), { paymentId: paid.payment.id, amountCents: 100 });
    for (const paymentId of [UNKNOWN, 'nope', refund.payment.id])
      await expect(refundPayment(t.em(), { paymentId })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('answers DUPLICATE_PAYMENT, not a raw 23505 error, for a refund providerRef used before', async () => {
    const user = await createTestUser(t.em());
    const ref = `re_${uniqueTag()}`;
    const paid = await recordPayment(t.em(), { userId: user.id, amountCents: 500, currency: 'EUR' });
    const first = await refundPayment(t.em(), {
      paymentId: paid.payment.id,
      amountCents: 100,
      providerRef: ref,
    });
    const again = refundPayment(t.em(), { paymentId: paid.payment.id, amountCents: 100, providerRef: ref });
    await expect(again).rejects.toBeInstanceOf(DuplicatePaymentError);
    await expect(again).rejects.toMatchObject({ code: 'DUPLICATE_PAYMENT', paymentId: first.payment.id });
    expect(await balanceOf(user.id)).toBe(400);
  });
});
