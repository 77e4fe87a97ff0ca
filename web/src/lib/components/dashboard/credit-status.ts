/**
 * The dashboard's credit notice: the runway line and the low / negative banner, from the
 * balance's `creditStatus`.
 */
import { graphql, type ResultOf } from '@hero/graphql';

export const DashboardCreditStatus = graphql(`
  fragment DashboardCreditStatus on CreditStatus {
    balanceCents
    currency
    runwayDays
    runsOutAt
    low
    lowReason
    negative
    releaseAt
  }
`);

export type DashboardCredit = ResultOf<typeof DashboardCreditStatus>;

/** What the notice shows: nothing, a low-balance warning, or the negative-balance alert. */
export function creditBanner(credit: DashboardCredit): 'negative' | 'low' | null {
  if (credit.negative) return 'negative';
  return credit.low ? 'low' : null;
}
