import { randomBytes } from 'node:crypto';
import { graphql, type ResultOf } from '@hero/graphql';
import { error, fail } from '@sveltejs/kit';
import { parseAmountCents, prefillCents, RETURN_COOKIE } from '#lib/components/billing/top-up.ts';
import { formatMoney } from '#lib/format.ts';
import { gql } from '#lib/server/api.ts';
import { describeUserFailure } from '#lib/server/user.ts';
import type { Actions, PageServerLoad } from './$types';

const CREDIT_PAGE = graphql(`
  query UserCreditPage {
    topUpOptions {
      minCents
      maxCents
      presetsCents
      currency
    }
    me {
      billing {
        creditBalanceCents
        currency
      }
    }
  }
`);

const START_TOP_UP = graphql(`
  mutation UserStartTopUp($amountCents: SafeInt!, $attemptKey: String) {
    startTopUp(amountCents: $amountCents, attemptKey: $attemptKey) {
      __typename
      ... on StartTopUpSuccess {
        checkout {
          sessionId
          url
        }
      }
      ... on TopUpAmountError {
        minCents
        maxCents
        currency
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

/** What the form tells the page: the payment page to go to, or an error (role="alert"). */
export interface TopUpMessage {
  /** Stripe's payment page: the browser goes there (a link without JavaScript). */
  checkoutUrl?: string;
  error?: string;
  /** The custom amount as typed, to show it again with the error. */
  amount?: string;
}

export const load: PageServerLoad = async (event) => {
  let page: ResultOf<typeof CREDIT_PAGE>;
  try {
    page = await gql(event, CREDIT_PAGE);
  } catch (err) {
    const { status, code, message } = describeUserFailure(event, err);
    error(status, message, { code });
  }
  const options = page.topUpOptions;
  return {
    options,
    balanceCents: page.me.billing.creditBalanceCents,
    currency: page.me.billing.currency,
    prefillCents: options
      ? prefillCents(event.url.searchParams.get('amount'), options.minCents, options.maxCents)
      : null,
    /** Back from Stripe's page without paying. */
    cancelled: event.url.searchParams.get('cancelled') === '1',
    returnTo: event.url.searchParams.get('return') === 'plans' ? 'plans' : null,
    // One per rendering: a double submit of this form (same amount) makes one Stripe session.
    attemptKey: randomBytes(12).toString('hex'),
  };
};

export const actions: Actions = {
  start: async (event) => {
    const data = await event.request.formData();
    const preset = String(data.get('amountCents') ?? '');
    const typed = String(data.get('amount') ?? '');
    const attemptKey = String(data.get('attemptKey') ?? '') || null;
    const amountCents = preset
      ? /^\d{1,13}$/.test(preset)
        ? Number(preset)
        : null
      : parseAmountCents(typed);
    if (amountCents === null || amountCents === 0)
      return fail(400, {
        error: 'Enter an amount such as 30 or 30.50.',
        amount: typed,
      } satisfies TopUpMessage);
    let result: ResultOf<typeof START_TOP_UP>['startTopUp'];
    try {
      ({ startTopUp: result } = await gql(event, START_TOP_UP, { amountCents, attemptKey }));
    } catch (err) {
      const { status, message } = describeUserFailure(event, err);
      return fail(status, { error: message, amount: typed } satisfies TopUpMessage);
    }
    switch (result.__typename) {
      case 'StartTopUpSuccess': {
        if (data.get('return') === 'plans')
          event.cookies.set(RETURN_COOKIE, 'plans', {
            path: '/credit',
            httpOnly: true,
            sameSite: 'lax',
            secure: event.url.protocol === 'https:',
            maxAge: 24 * 3600,
          });
        else event.cookies.delete(RETURN_COOKIE, { path: '/credit' });
        return { checkoutUrl: result.checkout.url } satisfies TopUpMessage;
      }
      case 'TopUpAmountError': {
        const min = formatMoney(result.minCents, result.currency, 'en');
        const max = formatMoney(result.maxCents, result.currency, 'en');
        return fail(400, {
          error: `Choose an amount from ${min} to ${max}.`,
          amount: typed,
        } satisfies TopUpMessage);
      }
      default:
        return fail(result.code === 'PAYMENT_PROVIDER_ERROR' ? 502 : 409, {
          error: result.message,
          amount: typed,
        } satisfies TopUpMessage);
    }
  },
};
