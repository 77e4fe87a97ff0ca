import { type CreditStatus, creditStatus, RUNWAY_WINDOW_DAYS } from '@hero/core/billing/credit-watch';
import { builder } from '../builder.ts';
import { BillingType } from './user.ts';

const LowBalanceReasonEnum = builder.enumType('LowBalanceReason', {
  values: ['FLOOR', 'RUNWAY'] as const,
  description:
    'FLOOR: below LOW_BALANCE_CENTS. RUNWAY: lasts fewer than LOW_BALANCE_RUNWAY_DAYS days at the usage of the last 7 days.',
});

export const CreditStatusType = builder.objectRef<CreditStatus>('CreditStatus').implement({
  description: `Where a balance stands: its runway at the usage of the last ${RUNWAY_WINDOW_DAYS} days, whether it is low or negative, and when a negative balance releases the user's VMs.`,
  fields: (t) => ({
    balanceCents: t.expose('balanceCents', { type: 'SafeInt' }),
    currency: t.exposeString('currency'),
    usageCentsLast7Days: t.expose('usageCentsInWindow', {
      type: 'SafeInt',
      description: 'Usage debited in the last 7 days (a positive amount).',
    }),
    dailyUsageCents: t.exposeFloat('dailyUsageCents', {
      description: 'usageCentsLast7Days / 7: the usage rate the runway is computed at (fractional cents).',
    }),
    runwayDays: t.exposeFloat('runwayDays', {
      nullable: true,
      description:
        'balance / dailyUsageCents; 0 when the balance is not above zero; null without usage in the last 7 days.',
    }),
    runsOutAt: t.expose('runsOutAt', {
      type: 'DateTime',
      nullable: true,
      description:
        'When the balance reaches zero at that rate; null without usage or when it is not above zero.',
    }),
    low: t.exposeBoolean('low', {
      description:
        'Below LOW_BALANCE_CENTS, or a runway below LOW_BALANCE_RUNWAY_DAYS (an account no money has moved on is never low).',
    }),
    lowReason: t.field({ type: LowBalanceReasonEnum, nullable: true, resolve: (s) => s.lowReason }),
    negative: t.exposeBoolean('negative', { description: 'Below zero: no new VM (BALANCE_NEGATIVE).' }),
    negativeSince: t.expose('negativeSince', {
      type: 'DateTime',
      nullable: true,
      description:
        'When the ledger row that took the balance below zero was written (this negative episode).',
    }),
    releaseAt: t.expose('releaseAt', {
      type: 'DateTime',
      nullable: true,
      description:
        "negativeSince + NEGATIVE_BALANCE_GRACE_HOURS: when the user's ACTIVE VMs are released (CREDIT_EXHAUSTED) unless credit brings the balance back to zero or above first; null when not negative or the grace is 0 (never).",
    }),
    lowBalanceCents: t.float({ resolve: (s) => s.policy.floorCents, description: 'LOW_BALANCE_CENTS.' }),
    lowBalanceRunwayDays: t.float({
      resolve: (s) => s.policy.runwayDays,
      description: 'LOW_BALANCE_RUNWAY_DAYS.',
    }),
    graceHours: t.float({
      resolve: (s) => s.policy.graceHours,
      description: 'NEGATIVE_BALANCE_GRACE_HOURS (0: a negative balance never releases VMs).',
    }),
  }),
});

builder.objectField(BillingType, 'creditStatus', (t) =>
  t.field({
    type: CreditStatusType,
    description: "The balance's runway, low and negative flags, and the release time of a negative balance.",
    resolve: async (billing, _args, ctx) => {
      const status = await creditStatus(ctx.em, billing.user.id, ctx.settings.creditPolicy);
      if (!status) throw new Error(`no billing row for user ${billing.user.id}`);
      return status;
    },
  }),
);
