import { printable } from './errors.ts';

/** What a table cell or a value may hold; null and undefined print as `-`. */
export type Cell = string | number | boolean | null | undefined;

export function cellText(value: Cell): string {
  if (value === null || value === undefined || value === '') return '-';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return printable(String(value));
}

/** Width in terminal columns, counting code points (good enough for ids, hosts and names). */
const width = (text: string) => [...text].length;

/**
 * An aligned table: upper-case headers, columns two spaces apart, no trailing spaces. Cells are
 * made printable (control characters escaped), so data cannot move the cursor or break rows.
 */
export function formatTable(headers: string[], rows: Cell[][]): string {
  const lines = [headers.map((h) => h.toUpperCase()), ...rows.map((row) => row.map(cellText))];
  const widths = headers.map((_, col) => Math.max(...lines.map((line) => width(line[col] ?? ''))));
  return lines
    .map((line) =>
      line
        .map((cell, col) => (col === line.length - 1 ? cell : cell + ' '.repeat(widths[col] - width(cell))))
        .join('  ')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}

/** `key  value` lines, keys padded to one column. Arrays print as comma-separated lists. */
export function formatKeyValues(pairs: [string, Cell | Cell[]][]): string {
  const keyWidth = Math.max(0, ...pairs.map(([k]) => width(k)));
  return pairs
    .map(([key, value]) => {
      const text = Array.isArray(value)
        ? value.length
          ? value.map(cellText).join(', ')
          : '-'
        : cellText(value);
      return `${key.padEnd(keyWidth)}  ${text}\n`;
    })
    .join('');
}

/** What --json prints: the value as indented JSON, one trailing newline. */
export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * A job run's summary: its counters one per line (in the summary's own order; a part of its own,
 * such as auto-release's `credit`, as `credit.<counter>`), `errors` as a count, then one line
 * per error of the run and of its parts (what the run could not do; the run itself succeeded).
 */
export function formatRunSummary(summary: { errors: string[] }): string {
  const counters: [string, number][] = [];
  const errors = [...summary.errors];
  for (const [key, value] of Object.entries(summary)) {
    if (typeof value === 'number') counters.push([key, value]);
    else if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [inner, innerValue] of Object.entries(value)) {
        if (typeof innerValue === 'number') counters.push([`${key}.${inner}`, innerValue]);
        else if (inner === 'errors' && Array.isArray(innerValue)) errors.push(...innerValue.map(String));
      }
    }
  }
  return (
    formatKeyValues([...counters, ['errors', errors.length]]) +
    errors.map((line) => `  ${printable(line)}\n`).join('')
  );
}

/** An API DateTime (ISO 8601) as `2025-01-31 12:00:00Z`; null stays null. */
export function formatTime(iso: string | null | undefined): string | null {
  if (!iso) return null;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** A duration as `850ms`, `12.3s`, `4m05s`, `2h03m`. */
export function formatDuration(ms: number): string {
  if (ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 59_950) return `${(ms / 1000).toFixed(1)}s`;
  const totalSeconds = Math.round(ms / 1000);
  if (totalSeconds < 3600)
    return `${Math.floor(totalSeconds / 60)}m${String(totalSeconds % 60).padStart(2, '0')}s`;
  const totalMinutes = Math.floor(totalSeconds / 60);
  return `${Math.floor(totalMinutes / 60)}h${String(totalMinutes % 60).padStart(2, '0')}m`;
}

/** Cuts text to `max` code points, ending in `…` when cut. */
export function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : text;
}

/**
 * A job summary (JSON object) on one line: `key=value` pairs; arrays show their length, nested
 * objects their JSON.
 */
export function formatSummary(summary: unknown): string {
  if (summary === null || summary === undefined) return '';
  if (typeof summary !== 'object' || Array.isArray(summary)) return JSON.stringify(summary);
  const entries = Object.entries(summary as Record<string, unknown>);
  const isPart = (value: unknown) => value !== null && typeof value === 'object' && !Array.isArray(value);
  // The run's own counters first: a part of its own (auto-release's `credit`) is long and last.
  return [...entries.filter(([, v]) => !isPart(v)), ...entries.filter(([, v]) => isPart(v))]
    .map(([key, value]) => {
      if (Array.isArray(value)) return `${key}=${value.length}`;
      if (isPart(value)) return `${key}=${JSON.stringify(value)}`;
      return `${key}=${String(value)}`;
    })
    .join(' ');
}

/** Digits after the decimal point of a currency (ISO 4217: EUR 2, JPY 0, KWD 3); unknown: 2. */
export function minorDigits(currency: string): number {
  try {
    return (
      new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ??
      2
    );
  } catch {
    return 2;
  }
}

/**
 * An amount in cents (minor units) as the cents and the amount in the currency's units:
 * `1250 (12.50 EUR)`, `-5 (-0.05 EUR)`, `500 (500 JPY)`. Exact (no floating point), no grouping.
 */
export function formatMoney(cents: number, currency: string): string {
  const digits = minorDigits(currency);
  const sign = cents < 0 ? '-' : '';
  const abs = String(Math.abs(cents)).padStart(digits + 1, '0');
  const units = digits === 0 ? abs : `${abs.slice(0, -digits)}.${abs.slice(-digits)}`;
  return `${cents} (${sign}${units} ${currency})`;
}

/** Plan discounts as `periods:percent` pairs: `1:0% 3:5% 12:15%`. */
export function formatDiscounts(discounts: { periods: number; percent: number }[]): string {
  return [...discounts]
    .sort((a, b) => a.periods - b.periods)
    .map((d) => `${d.periods}:${d.percent}%`)
    .join(' ');
}
