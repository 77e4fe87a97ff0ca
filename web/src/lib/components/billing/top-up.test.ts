import { describe, expect, it } from 'vitest';
import { amountText, parseAmountCents, prefillCents } from './top-up.ts';

describe('top-up amounts', () => {
  it('reads major units with up to two decimals as cents', () => {
    expect(parseAmountCents('30')).toBe(3_000);
    expect(parseAmountCents(' 30.5 ')).toBe(3_050);
    expect(parseAmountCents('30,05')).toBe(3_005);
    expect(parseAmountCents('0.99')).toBe(99);
    for (const bad of ['', '-5', '30.123', '1e3', '€30', '30.', 'abc', '1 000'])
      expect(parseAmountCents(bad), bad).toBeNull();
  });

  it('writes cents back as the field shows them', () => {
    expect(amountText(3_000)).toBe('30');
    expect(amountText(6_843)).toBe('68.43');
    expect(amountText(3_050)).toBe('30.50');
  });

  it('prefills what is missing, at least the minimum, nothing above the maximum', () => {
    expect(prefillCents('6843', 500, 100_000)).toBe(6_843);
    expect(prefillCents('120', 500, 100_000)).toBe(500);
    expect(prefillCents('100001', 500, 100_000)).toBeNull();
    expect(prefillCents('abc', 500, 100_000)).toBeNull();
    expect(prefillCents('0', 500, 100_000)).toBeNull();
    expect(prefillCents(null, 500, 100_000)).toBeNull();
  });
});
