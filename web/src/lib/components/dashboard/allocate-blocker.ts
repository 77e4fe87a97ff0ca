import { formatMoney } from '#lib/format.ts';

/** What the dashboard knows of the user when it offers "Allocate a VM". */
export interface AllocateState {
  vmQuota: number;
  /** ISO date-time; null: no plan period was ever set. */
  periodEnd: string | null;
  balanceCents: number;
  currency: string;
  /** ACTIVE allocations. */
  active: number;
  /** False until the user opened the link of the verification email. */
  emailVerified: boolean;
}

/** Why "Allocate a VM" is disabled, with where to fix it. */
export interface AllocateBlocker {
  code: 'EMAIL_NOT_VERIFIED' | 'NO_ACTIVE_PLAN' | 'BALANCE_NEGATIVE' | 'QUOTA_EXCEEDED';
  message: string;
  /** Where to fix it (none: the page's own banner says how). */
  href?: string;
  linkText?: string;
}

/**
 * The refusal the API would give to allocateVm, known before the click (same order as the
 * domain's checks: verified email, plan period, balance, quota). The API still checks: this only spares the
 * user a button that can only fail. A full pool cannot be known here and is not predicted.
 */
export function allocateBlocker(
  state: AllocateState,
  now: Date,
  addCreditHref = '/plans',
): AllocateBlocker | null {
  if (!state.emailVerified) {
    return {
      code: 'EMAIL_NOT_VERIFIED',
      message: 'Verify your email address first: open the link we sent you.',
    };
  }
  if (!state.periodEnd) {
    return {
      code: 'NO_ACTIVE_PLAN',
      message: 'No active plan: a VM needs one.',
      href: '/plans',
      linkText: 'Buy a plan',
    };
  }
  if (new Date(state.periodEnd).getTime() <= now.getTime()) {
    return {
      code: 'NO_ACTIVE_PLAN',
      message: 'Your plan period has ended: renew it to get a VM.',
      href: '/plans',
      linkText: 'Renew or buy a plan',
    };
  }
  if (state.balanceCents < 0) {
    return {
      code: 'BALANCE_NEGATIVE',
      message: `Your balance is below zero (${formatMoney(state.balanceCents, state.currency)}): add credit first.`,
      href: addCreditHref,
      linkText: 'Add credit',
    };
  }
  if (state.active >= state.vmQuota) {
    return {
      code: 'QUOTA_EXCEEDED',
      message:
        state.vmQuota === 0
          ? 'Your plan includes no VM: upgrade to get one.'
          : `${state.active} of ${state.vmQuota} in use: release one or upgrade.`,
      href: '/plans',
      linkText: 'See plans',
    };
  }
  return null;
}
