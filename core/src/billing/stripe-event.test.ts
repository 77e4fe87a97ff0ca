import { describe, expect, it } from 'vitest';
import { MAX_AMOUNT_CENTS } from './payments.ts';
import {
  checkoutSessionHead,
  eventObject,
  paidCheckoutSession,
  parseStripe,
  refundedCharge,
  safeText,
  stripeEventEnvelope,
  stripeId,
} from './stripe-event.ts';

describe('stripeId', () => {
  it.each(['evt_1NG8Du2eZvKYlo2CUI79vXWy', 'cs_test_a1b2', 'x', 'a'.repeat(255)])('accepts %s', (id) => {
    expect(stripeId.safeParse(id).success).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['NUL', 'evt_\u0000'],
    ['a lone high surrogate', 'evt_\ud800'],
    ['a lone low surrogate', 'evt_\udc00'],
    ['a space', 'evt 1'],
    ['a newline', 'evt_1\n'],
    ['non-ASCII', 'evt_é'],
    ['256 characters', 'a'.repeat(256)],
  ])('refuses %s', (_name, id) => {
    expect(stripeId.safeParse(id).success).toBe(false);
  });
});

describe('parseStripe', () => {
  it('names every problem with its path under the given prefix', () => {
    const result = parseStripe(
      eventObject(refundedCharge),
      { object: { object: 'charge', id: 'ch_1', amount_refunded: 1.5 } },
      'data',
    );
    expect(result).toEqual({
      ok: false,
      problems:
        'data.object.currency: Invalid input: expected string, received undefined; ' +
        'data.object.amount_refunded: must be a whole number of cents',
    });
  });

  it('without a prefix, a problem of the whole input has no path', () => {
    expect(parseStripe(stripeEventEnvelope, null, '')).toEqual({
      ok: false,
      problems: 'Invalid input: expected object, received null',
    });
  });

  it('an envelope needs no data (an unhandled type does not read it)', () => {
    expect(parseStripe(stripeEventEnvelope, { id: 'evt_1', type: 'customer.created' }, '')).toEqual({
      ok: true,
      value: { id: 'evt_1', type: 'customer.created' },
    });
  });
});

describe('checkout sessions', () => {
  const paid = {
    object: 'checkout.session',
    id: 'cs_1',
    payment_status: 'paid',
    amount_total: 2_500,
    currency: 'eur',
    client_reference_id: null,
    metadata: { userId: 'u' },
    payment_intent: 'pi_1',
  };

  it('reads the payment intent as an id, expanded or not, and the currency upper-cased', () => {
    expect(parseStripe(paidCheckoutSession, paid, '')).toMatchObject({
      ok: true,
      value: { amount_total: 2_500, currency: 'EUR', payment_intent: 'pi_1' },
    });
    const expanded = { ...paid, payment_intent: { id: 'pi_2', object: 'payment_intent' } };
    expect(parseStripe(paidCheckoutSession, expanded, '')).toMatchObject({
      ok: true,
      value: { payment_intent: 'pi_2' },
    });
    for (const none of [null, undefined]) {
      expect(parseStripe(paidCheckoutSession, { ...paid, payment_intent: none }, '')).toMatchObject({
        ok: true,
        value: { payment_intent: null },
      });
    }
  });

  it('an expanded payment intent without a usable id is refused', () => {
    const result = parseStripe(paidCheckoutSession, { ...paid, payment_intent: { id: 'pi_\u0000' } }, '');
    expect(result.ok).toBe(false);
  });

  it.each([
    ['10.5', 10.5, 'must be a whole number of cents'],
    ['0', 0, 'must be more than 0'],
    ['negative', -1, 'must be more than 0'],
    ['over the bound', MAX_AMOUNT_CENTS + 1, `must be at most ${MAX_AMOUNT_CENTS} cents`],
    ['a string', '2500', 'Invalid input: expected number, received string'],
  ])("holds amount_total to recordPayment's bounds: %s", (_name, amount, message) => {
    expect(parseStripe(paidCheckoutSession, { ...paid, amount_total: amount }, '')).toEqual({
      ok: false,
      problems: `amount_total: ${message}`,
    });
  });

  it('accepts exactly the upper bound', () => {
    expect(parseStripe(paidCheckoutSession, { ...paid, amount_total: MAX_AMOUNT_CENTS }, '').ok).toBe(true);
  });

  it('the head needs the object kind, an id and a known payment status', () => {
    expect(parseStripe(checkoutSessionHead, paid, '').ok).toBe(true);
    expect(parseStripe(checkoutSessionHead, { ...paid, object: 'charge' }, '')).toEqual({
      ok: false,
      problems: 'object: Invalid input: expected "checkout.session"',
    });
    expect(parseStripe(checkoutSessionHead, { ...paid, payment_status: 'pending' }, '').ok).toBe(false);
  });
});

describe('safeText', () => {
  it('replaces NUL and lone surrogates, keeps paired ones', () => {
    expect(safeText('a\u0000b\ud800c\udc00d 😀')).toBe('a\uFFFDb\uFFFDc\uFFFDd 😀');
  });

  it('bounds the length without leaving half a surrogate pair', () => {
    const text = `${'a'.repeat(1999)}😀tail`;
    const safe = safeText(text);
    expect(safe).toHaveLength(2000);
    expect(safe.endsWith('\uFFFD')).toBe(true);
    expect(safe.isWellFormed()).toBe(true);
  });
});
