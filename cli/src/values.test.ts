import { describe, expect, it } from 'vitest';
import { UsageError } from './errors.ts';
import { amountCents, dateTime, signedAmountCents, wholeNumber } from './values.ts';

describe('dateTime', () => {
  it('takes an ISO 8601 date-time with its offset, answered in UTC', () => {
    expect(dateTime('until', '2026-12-24T18:00Z')).toBe('2026-12-24T18:00:00.000Z');
    expect(dateTime('until', ' 2026-12-24T19:00:00.5+01:00 ')).toBe('2026-12-24T18:00:00.500Z');
  });

  it('refuses a bare date, a missing offset and an impossible date', () => {
    for (const bad of ['2026-12-24', '2026-12-24T18:00:00', 'tomorrow', '2026-13-40T00:00:00Z'])
      expect(() => dateTime('until', bad)).toThrow(UsageError);
  });
});

describe('amountCents', () => {
  it('takes whole positive cents up to the largest safe integer', () => {
    expect(amountCents('amount-cents', '007')).toBe(7);
    expect(amountCents('amount-cents', String(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    for (const bad of ['0', '-5', '+5', '12.50', '1e3', String(Number.MAX_SAFE_INTEGER + 2)])
      expect(() => amountCents('amount-cents', bad)).toThrow(UsageError);
  });
});

describe('signedAmountCents', () => {
  it('takes a credit or a debit in whole cents', () => {
    expect(signedAmountCents('amount-cents', '1250')).toBe(1250);
    expect(signedAmountCents('amount-cents', '-1250')).toBe(-1250);
  });

  it('refuses 0, fractions, a plus sign and anything that is not a number', () => {
    for (const bad of ['0', '-0', '+5', '12.50', '-1e3', '--5', '-', 'ten', ''])
      expect(() => signedAmountCents('amount-cents', bad)).toThrow(
        /--amount-cents must be a whole number of cents, not 0/,
      );
  });
});

describe('wholeNumber', () => {
  it('takes 0 and more, refuses signs and fractions', () => {
    expect(wholeNumber('quota', '0')).toBe(0);
    expect(wholeNumber('quota', '3')).toBe(3);
    for (const bad of ['-1', '1.5', 'two', '']) expect(() => wholeNumber('quota', bad)).toThrow(UsageError);
  });
});
