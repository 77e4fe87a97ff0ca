/** Formatting shared by the server render and the browser (dates: with the render's Clock). */

/** Cents as money in the currency, e.g. `€12.34`; negative amounts keep their sign. */
export function formatMoney(cents: number, currency: string, locale?: string): string {
  return new Intl.NumberFormat(locale ?? 'en', { style: 'currency', currency }).format(cents / 100);
}

export function formatNumber(n: number, locale?: string): string {
  return new Intl.NumberFormat(locale ?? 'en').format(n);
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

/** "in 3 days", "2 hours ago", "now". */
export function formatRelative(date: Date, now: Date = new Date(), locale?: string): string {
  const seconds = Math.round((date.getTime() - now.getTime()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return 'now';
  const rtf = new Intl.RelativeTimeFormat(locale ?? 'en', { numeric: 'auto' });
  for (const [unit, size] of UNITS) {
    if (abs >= size || unit === 'second') return rtf.format(Math.round(seconds / size), unit);
  }
  return rtf.format(seconds, 'second');
}

/** Date and time in a time zone (the viewer's, from the render's Clock; named when UTC). */
export function formatDateTime(date: Date, timeZone?: string, locale?: string): string {
  // dateStyle cannot be combined with timeZoneName: the zone is named by hand for UTC.
  const text = new Intl.DateTimeFormat(locale ?? 'en', {
    dateStyle: 'medium',
    timeStyle: 'short',
    timeZone,
  })
    .format(date)
    // ICU versions (Node's, the browser's) differ on no-break spaces: plain ones read the same.
    .replace(/[\u00a0\u202f]/g, ' ');
  return timeZone === 'UTC' ? `${text} UTC` : text;
}
