import { describe, expect, it } from 'vitest';
import { type LedgerRow, ledgerChart, windowStart } from './ledger-chart.ts';

const now = new Date('2026-11-23T15:00:00Z');
const row = (
  createdAt: string,
  kind: LedgerRow['kind'],
  amountCents: number,
  balanceAfterCents: number,
): LedgerRow => ({
  createdAt,
  kind,
  amountCents,
  balanceAfterCents,
});

describe('ledgerChart', () => {
  it('starts the window at midnight UTC 29 days before today', () => {
    expect(windowStart(now).toISOString()).toBe('2026-10-25T00:00:00.000Z');
  });

  it('is empty without rows in the window', () => {
    const chart = ledgerChart([row('2026-09-01T00:00:00Z', 'PAYMENT', 500, 500)], now);
    expect(chart.rows).toBe(0);
    expect(chart.balance).toEqual([]);
    expect(chart.usage).toHaveLength(30);
    expect(chart.usageTotalCents).toBe(0);
  });

  it('draws the balance from the window start to now, one point per instant', () => {
    // Newest first, as the API answers; two usage rows written in one statement share an instant.
    const rows = [
      row('2026-11-23T10:00:00Z', 'USAGE', -80, 4720),
      row('2026-11-23T10:00:00Z', 'USAGE', -200, 4800),
      row('2026-11-20T09:00:00Z', 'PAYMENT', 3000, 5000),
      row('2026-10-01T00:00:00Z', 'PAYMENT', 2000, 2000),
    ];
    const chart = ledgerChart(rows, now);
    expect(chart.rows).toBe(3);
    expect(chart.balance).toEqual([
      { x: '2026-10-25T00:00:00.000Z', y: 2000 },
      { x: '2026-11-20T09:00:00.000Z', y: 5000 },
      { x: '2026-11-23T10:00:00.000Z', y: 4720 },
      { x: '2026-11-23T15:00:00.000Z', y: 4720 },
    ]);
  });

  it('opens with the balance before the oldest row when no older row was read', () => {
    const chart = ledgerChart([row('2026-11-20T09:00:00Z', 'PAYMENT', 3000, 3500)], now);
    expect(chart.balance[0]).toEqual({ x: '2026-10-25T00:00:00.000Z', y: 500 });
  });

  it('sums usage debits per UTC day, other kinds left out', () => {
    const rows = [
      row('2026-11-23T23:59:59Z', 'USAGE', -5, 0),
      row('2026-11-23T00:00:00Z', 'USAGE', -10, 0),
      row('2026-11-22T23:59:59Z', 'USAGE', -7, 0),
      row('2026-11-22T12:00:00Z', 'ADJUSTMENT', -1000, 0),
      row('2026-10-25T00:00:00Z', 'USAGE', -3, 0),
    ];
    const chart = ledgerChart(rows, new Date('2026-11-23T23:59:59.500Z'));
    expect(chart.usage[0]).toEqual({ label: 'Oct 25', value: 3 });
    expect(chart.usage[28]).toEqual({ label: 'Nov 22', value: 7 });
    expect(chart.usage[29]).toEqual({ label: 'Nov 23', value: 15 });
    expect(chart.usageTotalCents).toBe(25);
  });

  it('gives one distinct label per day, in whole cents (integer ticks)', () => {
    const chart = ledgerChart([row('2026-11-23T10:00:00Z', 'USAGE', -1, 4999)], now);
    expect(chart.usage).toHaveLength(30);
    expect(new Set(chart.usage.map((u) => u.label)).size).toBe(30);
    expect(chart.usage.every((u) => Number.isInteger(u.value))).toBe(true);
    expect(chart.balance.every((p) => Number.isInteger(p.y))).toBe(true);
  });

  it('draws a line even from one ledger row: the opening balance, the row, now', () => {
    const chart = ledgerChart([row('2026-11-20T09:00:00Z', 'PAYMENT', 3000, 3000)], now);
    expect(chart.rows).toBe(1);
    expect(chart.balance.length).toBeGreaterThanOrEqual(2);
    expect(chart.balance[0].y).toBe(0);
    expect(chart.balance[chart.balance.length - 1].y).toBe(3000);
  });
});
