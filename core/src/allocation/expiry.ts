import type { VmAllocation } from '../entities/vm-allocation.entity.ts';

export const DEFAULT_EXPIRY_WARNING_HOURS = 72;
const HOUR_MS = 3_600_000;

/**
 * An ACTIVE allocation whose end is within `warningHours` (and not past): the window in which
 * auto-release writes its one `allocation.expiring` event. Never true with `warningHours` 0.
 */
export function isExpiringSoon(
  allocation: Pick<VmAllocation, 'status' | 'expiresAt'>,
  warningHours: number,
  now: Date = new Date(),
): boolean {
  if (allocation.status !== 'ACTIVE' || warningHours <= 0) return false;
  const left = allocation.expiresAt.getTime() - now.getTime();
  return left >= 0 && left < warningHours * HOUR_MS;
}
