/** Small helpers shared by the SVG charts. */

/**
 * The charts' default size and margins (M) around the plot, in CSS pixels: a chart draws at
 * its container's width (1 viewBox unit = 1 px), so its 12 px labels stay 12 px on a phone.
 */
export const CHART = { W: 640, H: 220, M: { top: 12, right: 16, bottom: 28, left: 76 } } as const;

/** The narrowest a chart draws (a phone's card, less its padding). */
export const MIN_CHART_WIDTH = 200;

/**
 * "Nice" ticks for a value axis from 0 (or below 0) to max. With `integer` (counts, cents) every
 * tick is a whole number: no 0.25 records.
 */
export function niceTicks(min: number, max: number, count = 4, integer = false): number[] {
  const lo = Math.min(0, min);
  const hi = Math.max(lo + 1, max);
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const steps = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).filter((s) => !integer || Number.isInteger(s));
  const step = Math.max(integer ? 1 : 0, steps.find((s) => s >= raw) ?? raw);
  const start = Math.floor(lo / step) * step;
  const ticks: number[] = [];
  for (let v = start; v <= hi + step * 1e-9; v += step) ticks.push(Math.round(v * 1e6) / 1e6);
  if (ticks[ticks.length - 1] < hi) ticks.push(ticks[ticks.length - 1] + step);
  return ticks;
}

/**
 * Which x labels to draw: at most as many as fit in `width` px (labels of `labels`' longest
 * length at 12 px), evenly spread, and never the same text twice. null: not drawn.
 */
export function visibleLabels(labels: readonly string[], width: number): (string | null)[] {
  const longest = Math.max(1, ...labels.map((l) => l.length));
  const fit = Math.max(1, Math.floor(width / (longest * 7 + 16)));
  const every = Math.max(1, Math.ceil(labels.length / fit));
  const seen = new Set<string>();
  return labels.map((label, i) => {
    if (i % every !== 0 || seen.has(label)) return null;
    seen.add(label);
    return label;
  });
}

/** A bar's width in a band: most of it, but not a slab when there are only one or two bars. */
export function barWidthFor(band: number): number {
  return Math.min(48, Math.max(2, band * 0.7));
}

/** Plain spaces: ICU versions (Node's, the browser's) differ on no-break spaces. */
const plain = (text: string) => text.replace(/[\u00a0\u202f]/g, ' ');

/**
 * Labels for points in time (e.g. one bar per job run), in the viewer's language and zone: the
 * shortest form that tells every one apart: the day, the time of day (all on one day), day and
 * time, and with seconds when runs are that close.
 */
export function timeLabels(dates: readonly Date[], locale: string, timeZone: string): string[] {
  const day: Intl.DateTimeFormatOptions = { month: 'short', day: 'numeric' };
  const minute: Intl.DateTimeFormatOptions = { hour: '2-digit', minute: '2-digit' };
  const second: Intl.DateTimeFormatOptions = { ...minute, second: '2-digit' };
  const format = (options: Intl.DateTimeFormatOptions) => {
    const f = new Intl.DateTimeFormat(locale, { ...options, timeZone });
    return dates.map((d) => plain(f.format(d)));
  };
  const days = format(day);
  const oneDay = new Set(days).size <= 1;
  const candidates = oneDay ? [minute, second] : [day, { ...day, ...minute }, { ...day, ...second }];
  let labels = days;
  for (const options of candidates) {
    labels = format(options);
    if (new Set(labels).size === labels.length) return labels;
  }
  return labels;
}

export function linear(domain: [number, number], range: [number, number]): (v: number) => number {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

export const shortDate = (d: Date): string =>
  new Intl.DateTimeFormat('en', { month: 'short', day: 'numeric', timeZone: 'UTC' }).format(d);

/**
 * An SVG path through `points` (data units, oldest first), placed by `x` and `y`. With `step`,
 * each value holds until the next point and then jumps: the truthful shape of a balance, which
 * changes at an instant instead of drifting there.
 */
export function linePath(
  points: readonly { x: number; y: number }[],
  x: (v: number) => number,
  y: (v: number) => number,
  step = false,
): string {
  const at = (v: number) => v.toFixed(1);
  return points
    .map((p, i) => {
      if (i === 0) return `M${at(x(p.x))},${at(y(p.y))}`;
      if (!step) return `L${at(x(p.x))},${at(y(p.y))}`;
      return `H${at(x(p.x))} V${at(y(p.y))}`;
    })
    .join(' ');
}
