/**
 * The dashboard's "Balance and usage, last 30 days" card, from the user's ledger (newest first):
 * the balance after each change, and the usage debited per day. Days are UTC calendar days,
 * today included.
 */

import { graphql, type ResultOf } from '@hero/graphql';

export const CHART_DAYS = 30;
const DAY_MS = 24 * 3600 * 1000;

/** A page of the user's ledger, newest first: what the chart reads. */
export const DashboardLedgerPage = graphql(`
  fragment DashboardLedgerPage on UserLedgerConnection {
    edges {
      node {
        createdAt
        kind
        amountCents
        balanceAfterCents
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
`);

/** One ledger row as the chart reads it. */
export type LedgerRow = ResultOf<typeof DashboardLedgerPage>['edges'][number]['node'];

export interface LedgerChart {
  /** The balance over time (cents), oldest first. Empty: no change in the window. */
  balance: { x: string; y: number }[];
  /** Usage debited per day (cents), one bar per day of the window, oldest first. */
  usage: { label: string; value: number }[];
  usageTotalCents: number;
  /** Ledger rows in the window. */
  rows: number;
}

/** Midnight UTC of the first day of the window. */
export function windowStart(now: Date, days = CHART_DAYS): Date {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return new Date(today - (days - 1) * DAY_MS);
}

const dayLabel = new Intl.DateTimeFormat('en', { month: 'short', day: 'numeric', timeZone: 'UTC' });

/**
 * `rows`: the user's ledger newest first, read until a row older than the window (or the end).
 * The balance line starts at the window's start with the balance then and ends now with the
 * latest balance.
 */
export function ledgerChart(rows: readonly LedgerRow[], now: Date, days = CHART_DAYS): LedgerChart {
  const start = windowStart(now, days);
  const startMs = start.getTime();
  const inWindow = rows.filter((r) => new Date(r.createdAt).getTime() >= startMs);
  const before = rows.find((r) => new Date(r.createdAt).getTime() < startMs);

  // One point per instant: rows written in one statement share a timestamp; the newest (first)
  // of them holds the balance after all of them.
  const byTime = new Map<number, number>();
  for (const row of inWindow) {
    const t = new Date(row.createdAt).getTime();
    if (!byTime.has(t)) byTime.set(t, row.balanceAfterCents);
  }
  if (inWindow.length > 0) {
    // The balance when the window opened: after the last older row, or, when none was read,
    // before the window's oldest row (its balance less its amount).
    const oldest = inWindow[inWindow.length - 1];
    const opening = before ? before.balanceAfterCents : oldest.balanceAfterCents - oldest.amountCents;
    if (!byTime.has(startMs)) byTime.set(startMs, opening);
    const nowMs = now.getTime();
    if (!byTime.has(nowMs) && nowMs > Math.max(...byTime.keys()))
      byTime.set(nowMs, inWindow[0].balanceAfterCents);
  }
  const balance = [...byTime.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([t, y]) => ({ x: new Date(t).toISOString(), y }));

  const usageByDay = new Array<number>(days).fill(0);
  for (const row of inWindow) {
    if (row.kind !== 'USAGE' || row.amountCents >= 0) continue;
    const day = Math.floor((new Date(row.createdAt).getTime() - startMs) / DAY_MS);
    if (day >= 0 && day < days) usageByDay[day] += -row.amountCents;
  }
  const usage = usageByDay.map((value, i) => ({
    label: dayLabel.format(new Date(startMs + i * DAY_MS)),
    value,
  }));

  return {
    balance,
    usage,
    usageTotalCents: usageByDay.reduce((sum, v) => sum + v, 0),
    rows: inWindow.length,
  };
}
