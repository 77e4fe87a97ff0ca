/** Small helpers shared by the SVG charts. */

/** The charts' size in viewBox units (W × H) and the margins (M) around the plot. */
export const CHART = { W: 640, H: 220, M: { top: 12, right: 16, bottom: 28, left: 64 } } as const;

/** "Nice" upper bound and tick step for a value axis from 0 (or below 0) to max. */
export function niceTicks(min: number, max: number, count = 4): number[] {
  const lo = Math.min(0, min);
  const hi = Math.max(lo + 1, max);
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const start = Math.floor(lo / step) * step;
  const ticks: number[] = [];
  for (let v = start; v <= hi + step * 1e-9; v += step) ticks.push(Math.round(v * 1e6) / 1e6);
  if (ticks[ticks.length - 1] < hi) ticks.push(ticks[ticks.length - 1] + step);
  return ticks;
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
