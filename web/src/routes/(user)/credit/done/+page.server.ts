import { graphql, type ResultOf } from '@hero/graphql';
import { error } from '@sveltejs/kit';
import { RETURN_COOKIE } from '#lib/components/billing/top-up.ts';
import { gql } from '#lib/server/api.ts';
import { describeUserFailure } from '#lib/server/user.ts';
import type { PageServerLoad } from './$types';

const TOP_UP_DONE = graphql(`
  query UserTopUpDone($sessionId: String!) {
    topUpCheckout(sessionId: $sessionId) {
      __typename
      ... on TopUpCheckoutSuccess {
        checkout {
          status
          amountCents
          currency
          creditedAt
        }
      }
      ... on Error {
        code
        message
      }
    }
    me {
      billing {
        creditBalanceCents
        currency
      }
    }
  }
`);

/**
 * Where Stripe sends the browser after paying. The redirect proves nothing: the page shows the
 * session as the api reads it (from Stripe, and from the ledger for "credited") and is reloaded
 * by the browser until the webhook has credited the payment.
 */
export const load: PageServerLoad = async (event) => {
  const sessionId = event.url.searchParams.get('session_id') ?? '';
  if (!sessionId) error(404, 'That payment was not found.', { code: 'NOT_FOUND' });
  let page: ResultOf<typeof TOP_UP_DONE>;
  try {
    page = await gql(event, TOP_UP_DONE, { sessionId });
  } catch (err) {
    const { status, code, message } = describeUserFailure(event, err);
    error(status, message, { code });
  }
  const result = page.topUpCheckout;
  if (result.__typename === 'NotFoundError' || result.__typename === 'TopUpUnavailableError')
    error(404, 'That payment was not found.', { code: 'NOT_FOUND' });
  return {
    sessionId,
    checkout: result.__typename === 'TopUpCheckoutSuccess' ? result.checkout : null,
    /** Stripe could not be asked right now (the page tries again). */
    problem: result.__typename === 'TopUpCheckoutSuccess' ? null : result.message,
    balanceCents: page.me.billing.creditBalanceCents,
    currency: page.me.billing.currency,
    returnTo: event.cookies.get(RETURN_COOKIE) === 'plans' ? 'plans' : null,
  };
};
