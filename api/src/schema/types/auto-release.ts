import { type AutoReleaseSummary, autoReleaseNow } from '@hero/core/allocation/auto-release';
import { provisionerNamed } from '@hero/core/provisioners/registry';
import { builder } from '../builder.ts';
import { CreditWatchSummaryType } from './credit-watch-summary.ts';
import { requireProvisioner } from './provisioner.ts';

export const AutoReleaseSummaryType = builder.objectRef<AutoReleaseSummary>('AutoReleaseSummary').implement({
  description: 'What one auto-release run did.',
  fields: (t) => ({
    rowsExamined: t.exposeInt('rowsExamined', {
      description: "ACTIVE allocations read with expiresAt before the run's instant.",
    }),
    rowsExpired: t.exposeInt('rowsExpired', {
      description: 'Examined allocations still expired when their turn came.',
    }),
    rowsReleased: t.exposeInt('rowsReleased', {
      description: 'Allocations this run released (reason EXPIRED).',
    }),
    rowsAlreadyReleased: t.exposeInt('rowsAlreadyReleased', {
      description: 'Allocations released by someone else between the scan and their release (not an error).',
    }),
    expiryWarnings: t.exposeInt('expiryWarnings', {
      description:
        '`allocation.expiring` events written: allocations that entered the EXPIRY_WARNING_HOURS window.',
    }),
    plansRenewed: t.int({
      description: 'Plan periods auto-renewed before the scan (one `plan.renewed` event each).',
      resolve: (s) => s.plansRenewed ?? 0,
    }),
    planExpiringNotices: t.int({
      description: '`plan.expiring` events written: periods ending soon that will not be renewed.',
      resolve: (s) => s.planExpiringNotices ?? 0,
    }),
    errors: t.exposeStringList('errors', {
      description:
        'One line per allocation that could not be released (the first 100, then a count); the others were processed.',
    }),
    credit: t.field({
      type: CreditWatchSummaryType,
      nullable: true,
      description: 'The credit watch of this run; null when it did not run (no credit policy given).',
      resolve: (s) => s.credit ?? null,
    }),
  }),
});

builder.mutationField('autoReleaseNow', (t) =>
  t.field({
    type: AutoReleaseSummaryType,
    description:
      'Admin: run auto-release now (recorded as a MANUAL job run): due plan renewals first, then releases and warnings, then the credit watch (balance.low / balance.negative events, CREDIT_EXHAUSTED releases after NEGATIVE_BALANCE_GRACE_HOURS: `credit`). Shares the run lock with the auto-release worker: while a run is in progress this answers ALREADY_RUNNING (HTTP 409) instead of running twice. PROVISIONER_UNAVAILABLE (503) without a provisioner.',
    authScopes: { operate: true },
    resolve: (_root, _args, ctx) => {
      requireProvisioner(ctx);
      return autoReleaseNow(ctx.em, {
        provisionerFor: (name) => provisionerNamed(name),
        expiryWarningHours: ctx.settings.expiryWarningHours,
        creditPolicy: ctx.settings.creditPolicy,
        renewals: { catalog: ctx.settings.plans },
        log: ctx.log.child({ job: 'auto-release' }),
      });
    },
  }),
);
