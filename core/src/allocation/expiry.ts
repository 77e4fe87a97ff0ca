import type { VmAllocation } from '../entities/vm-allocation.entity.ts';

export const DEFAULT_EXPIRY_WARNING_HOURS = 72;
const HOUR_MS = 3_600_000;

/** Allocations ending in `from <= expiresAt < until` are expiring soon. */
export interface ExpiryWarningWindow {
  from: Date;
  until: Date;
}

/**
 * The one definition of the expiry-warning window: from now (an allocation already past its
 * end is auto-release's, not a warning's) to `warningHours` ahead; none with `warningHours` 0.
 * The API's `expiringSoon` and auto-release's `allocation.expiring` events both use it.
 */
export function expiryWarningWindow(
  warningHours: number,
  now: Date = new Date(),
): ExpiryWarningWindow | null {
  if (warningHours <= 0) return null;
  return { from: now, until: new Date(now.getTime() + warningHours * HOUR_MS) };
}

/** An ACTIVE allocation whose end is in the expiry-warning window. */
export function isExpiringSoon(
  allocation: Pick<VmAllocation, 'status' | 'expiresAt'>,
  warningHours: number,
  now: Date = new Date(),
): boolean {
  const window = expiryWarningWindow(warningHours, now);
  if (allocation.status !== 'ACTIVE' || !window) return false;
  const end = allocation.expiresAt.getTime();
  return end >= window.from.getTime() && end < window.until.getTime();
}
