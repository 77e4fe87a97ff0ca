/** Wording of admin outcomes and states, derived from the data so they cannot contradict it. */
import { formatDateTime, formatMoney } from '#lib/format.ts';

export interface QuotaState {
  vmQuota: number;
  /** ISO date-time, or null: no plan period end. */
  periodEnd: string | null;
}

const vms = (n: number) => `${n} VM${n === 1 ? '' : 's'}`;
// The quota form takes its date in UTC, so the message names the same instant the same way.
const when = (iso: string) => formatDateTime(new Date(iso), 'UTC');
const sameInstant = (a: string | null, b: string | null) =>
  a === b || (a !== null && b !== null && new Date(a).getTime() === new Date(b).getTime());

/** What a quota change did, from the quota before and after: only what changed is said to change. */
export function quotaChangeMessage(before: QuotaState | null, after: QuotaState): string {
  const end = after.periodEnd ? `plan period ends ${when(after.periodEnd)}` : 'no plan period end';
  if (!before) return `Quota set to ${vms(after.vmQuota)}; ${end}.`;
  const quotaChanged = before.vmQuota !== after.vmQuota;
  const endChanged = !sameInstant(before.periodEnd, after.periodEnd);
  if (!quotaChanged && !endChanged) return `Nothing changed: quota ${vms(after.vmQuota)}, ${end}.`;
  const parts: string[] = [];
  if (quotaChanged) parts.push(`quota changed from ${vms(before.vmQuota)} to ${vms(after.vmQuota)}`);
  if (endChanged) {
    if (!after.periodEnd) parts.push(`plan period end removed (was ${when(before.periodEnd as string)})`);
    else if (!before.periodEnd) parts.push(`plan period end set to ${when(after.periodEnd)}`);
    else parts.push(`plan period end moved from ${when(before.periodEnd)} to ${when(after.periodEnd)}`);
  }
  if (!quotaChanged) parts.push(`quota stays ${vms(after.vmQuota)}`);
  const text = parts.join('; ');
  return `${text[0].toUpperCase()}${text.slice(1)}.`;
}

export type PoolVmStatus = 'AVAILABLE' | 'MAINTENANCE' | 'RETIRED';

/**
 * The one state a pool VM is shown in, from its pool status and whether an active allocation
 * holds it: "In use" and "Free" split AVAILABLE, and an allocation on a VM in maintenance or
 * retired is named with it rather than shown beside a badge that says otherwise.
 */
export function poolVmState(
  status: string,
  allocated: boolean,
): { label: string; tone: 'success' | 'info' | 'warning' | 'danger' | '' } {
  switch (status) {
    case 'AVAILABLE':
      return allocated ? { label: 'In use', tone: 'info' } : { label: 'Free', tone: 'success' };
    case 'MAINTENANCE':
      return allocated
        ? { label: 'Maintenance, still allocated', tone: 'warning' }
        : { label: 'Maintenance', tone: 'warning' };
    case 'RETIRED':
      return allocated
        ? { label: 'Retired, still allocated', tone: 'danger' }
        : { label: 'Retired', tone: '' };
    default:
      return { label: allocated ? `${status}, allocated` : status, tone: '' };
  }
}

/** Amounts per currency as one phrase: "€12.00 and $3.50"; "nothing" when there is none. */
export function moneyByCurrency(amounts: readonly { currency: string; cents: number }[]): string {
  const shown = amounts.filter((a) => a.cents !== 0);
  if (shown.length === 0) return 'nothing';
  const texts = shown.map((a) => {
    try {
      return formatMoney(a.cents, a.currency);
    } catch {
      return `${(a.cents / 100).toFixed(2)} ${a.currency}`;
    }
  });
  return texts.length === 1 ? texts[0] : `${texts.slice(0, -1).join(', ')} and ${texts.at(-1)}`;
}
