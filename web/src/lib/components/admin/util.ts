/** Small helpers for the admin pages (browser and server). */
import { formatMoney, formatNumber } from '#lib/format.ts';

/** Badge tone for a status word (allocation, pool VM, job run, webhook event). */
export function statusTone(
  status: string | null | undefined,
): '' | 'success' | 'warning' | 'danger' | 'info' {
  switch (status) {
    case 'ACTIVE':
    case 'AVAILABLE':
    case 'SUCCEEDED':
    case 'APPLIED':
      return 'success';
    case 'RUNNING':
      return 'info';
    case 'MAINTENANCE':
    case 'SUSPENDED':
    case 'SKIPPED':
    case 'IGNORED':
      return 'warning';
    case 'FAILED':
    case 'REFUSED':
    case 'DELETED':
      return 'danger';
    default:
      return '';
  }
}

/** Cents as money when the currency is known, else as a plain amount with two decimals. */
export function money(cents: number | null | undefined, currency: string | null | undefined): string {
  if (cents === null || cents === undefined) return '—';
  if (currency) {
    try {
      return formatMoney(cents, currency);
    } catch {
      // An unknown currency code: fall through to the plain amount.
    }
  }
  return `${(cents / 100).toFixed(2)}${currency ? ` ${currency}` : ''}`;
}

/** A signed amount: "+€5.00" / "−€5.00". */
export function signedMoney(cents: number, currency: string | null | undefined): string {
  const abs = money(Math.abs(cents), currency);
  return cents > 0 ? `+${abs}` : cents < 0 ? `−${abs}` : abs;
}

export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : formatNumber(n);
}

/** "850 ms", "12.4 s", "3 min 05 s", "2 h 01 min". */
export function duration(startedAt: string, finishedAt: string | null | undefined): string {
  if (!finishedAt) return '—';
  const ms = new Date(finishedAt).getTime() - new Date(startedAt).getTime();
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const whole = Math.round(s);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
  return `${Math.floor(whole / 3600)} h ${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')} min`;
}

/** An id shortened for a table cell (the whole id stays in the title). */
export function shortId(id: string, length = 8): string {
  return id.length > length + 1 ? `${id.slice(0, length)}…` : id;
}

/** A UTC value for `<input type="datetime-local">` ("2026-11-23T10:00"). */
export function toUtcInput(value: string | null | undefined): string {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString().slice(0, 16);
}
