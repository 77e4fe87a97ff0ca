import type { CreditWatchSummary } from '@hero/core/billing/credit-watch';
import { builder } from '../builder.ts';

export const CreditWatchSummaryType = builder.objectRef<CreditWatchSummary>('CreditWatchSummary').implement({
  description: "What one run's credit watch did (see Negative-balance policy in the runbook).",
  fields: (t) => ({
    usersChanged: t.exposeInt('usersChanged', {
      description: 'Users whose low or negative state changed since the watch last looked.',
    }),
    lowEvents: t.exposeInt('lowEvents', {
      description: '`balance.low` events written (low episodes that began).',
    }),
    lowRecovered: t.exposeInt('lowRecovered', {
      description: 'Low episodes that ended (the balance recovered above the thresholds).',
    }),
    negativeEvents: t.exposeInt('negativeEvents', {
      description: '`balance.negative` events written (negative episodes that began).',
    }),
    releaseWarnings: t.exposeInt('releaseWarnings', {
      description: '`allocation.expiring` warnings with reason CREDIT_EXHAUSTED written.',
    }),
    creditReleased: t.exposeInt('creditReleased', {
      description: 'Allocations released with reason CREDIT_EXHAUSTED.',
    }),
    creditReleaseDeferred: t.exposeInt('creditReleaseDeferred', {
      description:
        'Due allocations whose warning was only written now: released on a later run, never unwarned.',
    }),
    creditReleaseSkipped: t.exposeInt('creditReleaseSkipped', {
      description: 'Due allocations not released: credit came (or the allocation was released) meanwhile.',
    }),
    errors: t.exposeStringList('errors', { description: 'One line per user the watch could not settle.' }),
  }),
});
