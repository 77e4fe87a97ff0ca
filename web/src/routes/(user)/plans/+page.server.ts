import { graphql, type ResultOf } from '@hero/graphql';
import { error, fail } from '@sveltejs/kit';
import { formatMoney } from '#lib/format.ts';
import { gql } from '#lib/server/api.ts';
import { describeUserFailure } from '#lib/server/user.ts';
import type { Actions, PageServerLoad } from './$types';

const PLANS_PAGE = graphql(`
  query UserPlans {
    topUpOptions {
      currency
    }
    plans {
      code
      name
      vmQuota
      periodDays
      priceCents
      currency
      discounts {
        periods
        percent
      }
    }
    me {
      vmQuota
      vmQuotaPeriodEnd
      billing {
        creditBalanceCents
        currency
      }
    }
  }
`);

/** One quote as the page shows it (unmasked: read as part of the query's result). */
const QuoteFields = graphql(`
  fragment UserQuoteFields on QuotePlanResult @_unmask {
    __typename
    ... on QuotePlanSuccess {
      quote {
        periods
        subtotalCents
        discountPercent
        discountCents
        priceCents
        currency
      }
    }
    ... on Error {
      code
      message
    }
  }
`);

// The API computes every price (the discount rounds in whole cents): the page shows its figures
// for one period, three and twelve.
const PLAN_QUOTES = graphql(
  `
    query UserPlanQuotes($code: String!) {
      q1: quotePlan(planCode: $code, periods: 1) {
        ...UserQuoteFields
      }
      q3: quotePlan(planCode: $code, periods: 3) {
        ...UserQuoteFields
      }
      q12: quotePlan(planCode: $code, periods: 12) {
        ...UserQuoteFields
      }
    }
  `,
  [QuoteFields],
);

const PURCHASE = graphql(`
  mutation UserPurchasePlan($planCode: String!, $periods: Int!) {
    purchasePlan(planCode: $planCode, periods: $periods) {
      __typename
      ... on PurchasePlanSuccess {
        result {
          purchase {
            planName
            periods
            priceCents
            currency
            periodEnd
          }
          billing {
            creditBalanceCents
            currency
          }
        }
      }
      ... on InsufficientCreditError {
        balanceCents
        priceCents
        currency
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

/** What the purchase form tells the page: a success (role="status") or an error (role="alert"). */
export interface PurchaseMessage {
  success?: string;
  /** The new period end (shown in the viewer's time zone). */
  periodEnd?: string;
  error?: string;
  /** With INSUFFICIENT_CREDIT: the credit missing for the purchase. */
  missingCents?: number;
}

type QuoteResult = ResultOf<typeof PLAN_QUOTES>['q1'];
/** A price the API quoted, typed by the query. */
type Quote = Extract<QuoteResult, { __typename: 'QuotePlanSuccess' }>['quote'];

function quoteOf(result: QuoteResult): Quote | null {
  return result.__typename === 'QuotePlanSuccess' ? result.quote : null;
}

export const load: PageServerLoad = async (event) => {
  try {
    const { plans, me, topUpOptions } = await gql(event, PLANS_PAGE);
    const quotes = await Promise.all(
      plans.map(async (plan) => {
        const q = await gql(event, PLAN_QUOTES, { code: plan.code });
        return [q.q1, q.q3, q.q12].map(quoteOf).filter((x): x is Quote => x !== null);
      }),
    );
    return {
      plans: plans.map((plan, i) => ({ ...plan, quotes: quotes[i] })),
      balanceCents: me.billing.creditBalanceCents,
      currency: me.billing.currency,
      vmQuota: me.vmQuota,
      periodEnd: me.vmQuotaPeriodEnd,
      /** Self-serve top-up is on: a short balance links to "Add credit" with the amount missing. */
      topUpAvailable: topUpOptions !== null,
    };
  } catch (err) {
    const { status, code, message } = describeUserFailure(event, err);
    error(status, message, { code });
  }
};

export const actions: Actions = {
  purchase: async (event) => {
    const data = await event.request.formData();
    const planCode = String(data.get('plan') ?? '').trim();
    const periods = Number(data.get('periods'));
    if (!planCode || !Number.isInteger(periods) || periods < 1)
      return fail(400, { error: 'Choose a plan and a number of periods.' } satisfies PurchaseMessage);
    let result: ResultOf<typeof PURCHASE>['purchasePlan'];
    try {
      ({ purchasePlan: result } = await gql(event, PURCHASE, { planCode, periods }));
    } catch (err) {
      const { status, message } = describeUserFailure(event, err);
      return fail(status, { error: message } satisfies PurchaseMessage);
    }
    switch (result.__typename) {
      case 'PurchasePlanSuccess': {
        const { purchase, billing } = result.result;
        const price = formatMoney(purchase.priceCents, purchase.currency, 'en');
        const balance = formatMoney(billing.creditBalanceCents, billing.currency, 'en');
        return {
          success: `Bought ${purchase.periods} period${purchase.periods === 1 ? '' : 's'} of ${purchase.planName} for ${price}. Your balance is now ${balance}.`,
          periodEnd: purchase.periodEnd,
        } satisfies PurchaseMessage;
      }
      case 'InsufficientCreditError': {
        const missingCents = result.priceCents - result.balanceCents;
        const missing = formatMoney(missingCents, result.currency, 'en');
        return fail(409, {
          error: `Your balance is ${missing} short of the price. Add credit, then buy the plan.`,
          missingCents,
        } satisfies PurchaseMessage);
      }
      default:
        return fail(400, { error: result.message } satisfies PurchaseMessage);
    }
  },
};
