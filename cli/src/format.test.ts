import { describe, expect, it } from 'vitest';
import {
  formatDiscounts,
  formatDuration,
  formatKeyValues,
  formatMoney,
  formatRunSummary,
  formatSummary,
  formatTable,
  formatTime,
  minorDigits,
  truncate,
} from './format.ts';

describe('formatTable', () => {
  it('aligns columns under upper-case headers, without trailing spaces', () => {
    const text = formatTable(
      ['id', 'name', 'allocated', 'host'],
      [
        ['vm-001', 'first', true, '10.0.0.1'],
        ['vm-0002', 'second VM', false, null],
      ],
    );
    expect(text).toBe(
      'ID       NAME       ALLOCATED  HOST\n' +
        'vm-001   first      yes        10.0.0.1\n' +
        'vm-0002  second VM  no         -\n',
    );
  });

  it('escapes control characters so a cell cannot break a row or drive the terminal', () => {
    const text = formatTable(['name', 'x'], [['evil\nrow\u001b[2J', 'y']]);
    expect(text.split('\n')).toHaveLength(3);
    expect(text).toContain('evil row\\x1b[2J');
    expect(text).not.toContain('\u001b');
  });

  it('counts code points, not UTF-16 units', () => {
    const text = formatTable(
      ['a', 'b'],
      [
        ['🙂', 'x'],
        ['ab', 'y'],
      ],
    );
    expect(text.split('\n')[1]).toBe('🙂   x');
  });
});

describe('formatKeyValues', () => {
  it('pads keys and lists arrays', () => {
    expect(
      formatKeyValues([
        ['poolSize', 3],
        ['added', ['a', 'b']],
        ['retired', []],
      ]),
    ).toBe('poolSize  3\nadded     a, b\nretired   -\n');
  });
});

describe('times and durations', () => {
  it('formats API times in UTC to the second', () => {
    expect(formatTime('2025-03-04T05:06:07.890Z')).toBe('2025-03-04 05:06:07Z');
    expect(formatTime(null)).toBeNull();
    expect(formatTime('not a date')).toBe('not a date');
  });

  it('formats durations', () => {
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(12_345)).toBe('12.3s');
    expect(formatDuration(59_990)).toBe('1m00s');
    expect(formatDuration(245_000)).toBe('4m05s');
    expect(formatDuration(2 * 3600_000 + 3 * 60_000)).toBe('2h03m');
    expect(formatDuration(-1)).toBe('-');
  });
});

describe('summaries', () => {
  it('puts a job summary on one line', () => {
    expect(formatSummary({ rowsReleased: 2, errors: ['x', 'y'], nested: { a: 1 }, none: null })).toBe(
      'rowsReleased=2 errors=2 none=null nested={"a":1}',
    );
    expect(formatSummary(null)).toBe('');
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
  });

  it("lists a run's counters, a part's as part.counter, and every error", () => {
    const summary = {
      rowsReleased: 1,
      errors: ['allocation a: gone'],
      credit: { lowEvents: 2, errors: ['user u: busy'] },
    };
    const text = formatRunSummary(summary);
    const lines = text.split('\n');
    expect(lines.map((l) => l.replace(/\s+/g, ' ').trim()).filter(Boolean)).toEqual([
      'rowsReleased 1',
      'credit.lowEvents 2',
      'errors 2',
      'allocation a: gone',
      'user u: busy',
    ]);
  });
});

describe('money', () => {
  it('prints cents and the amount in the currency, exactly', () => {
    expect(formatMoney(1250, 'EUR')).toBe('1250 (12.50 EUR)');
    expect(formatMoney(5, 'EUR')).toBe('5 (0.05 EUR)');
    expect(formatMoney(0, 'USD')).toBe('0 (0.00 USD)');
    expect(formatMoney(-250, 'EUR')).toBe('-250 (-2.50 EUR)');
    expect(formatMoney(123456789012, 'CHF')).toBe('123456789012 (1234567890.12 CHF)');
    expect(formatMoney(Number.MAX_SAFE_INTEGER, 'EUR')).toBe('9007199254740991 (90071992547409.91 EUR)');
  });

  it("follows the currency's minor unit (JPY none, KWD three), unknown codes two", () => {
    expect(minorDigits('JPY')).toBe(0);
    expect(formatMoney(500, 'JPY')).toBe('500 (500 JPY)');
    expect(formatMoney(1234, 'KWD')).toBe('1234 (1.234 KWD)');
    expect(formatMoney(1234, 'XQQ')).toBe('1234 (12.34 XQQ)');
    expect(formatMoney(1234, 'not a code')).toBe('1234 (12.34 not a code)');
  });

  it('prints plan discounts as periods:percent, by periods', () => {
    expect(
      formatDiscounts([
        { periods: 12, percent: 15 },
        { periods: 1, percent: 0 },
        { periods: 3, percent: 5 },
      ]),
    ).toBe('1:0% 3:5% 12:15%');
    expect(formatDiscounts([{ periods: 6, percent: 7.5 }])).toBe('6:7.5%');
    expect(formatDiscounts([])).toBe('');
  });
});
