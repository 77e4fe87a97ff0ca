/**
 * The pause before retry number `attempt` (1 for the first retry): `baseMs` doubling on every
 * retry, capped at `maxMs`, spread by ±`jitter` (a fraction of the pause) so that replicas
 * retrying the same thing do not do it in step. The one backoff rule of every retry loop.
 */
export function backoffMs(
  attempt: number,
  {
    baseMs,
    maxMs = Number.POSITIVE_INFINITY,
    jitter = 0,
  }: { baseMs: number; maxMs?: number; jitter?: number },
): number {
  const pause = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return jitter > 0 ? Math.round(pause * (1 - jitter + Math.random() * 2 * jitter)) : pause;
}
