import { graphql, type ResultOf } from '@hero/graphql';
import { error } from '@sveltejs/kit';
import { gql } from '#lib/server/api.ts';
import { describeUserFailure } from '#lib/server/user.ts';
import type { PageServerLoad } from './$types';

const RECEIPT = graphql(`
  query UserReceipt($id: ID!) {
    receipt(paymentId: $id) {
      __typename
      ... on ReceiptSuccess {
        receipt {
          id
          kind
          amountCents
          currency
          provider
          providerRef
          note
          createdAt
          balanceAfterCents
          refundOfId
          netCents
          refunds {
            id
            amountCents
            currency
            createdAt
            note
          }
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

export const load: PageServerLoad = async (event) => {
  let result: ResultOf<typeof RECEIPT>['receipt'];
  try {
    ({ receipt: result } = await gql(event, RECEIPT, { id: event.params.id }));
  } catch (err) {
    const { status, code, message } = describeUserFailure(event, err);
    error(status, message, { code });
  }
  // Another user's payment and an unknown id read the same.
  if (result.__typename !== 'ReceiptSuccess')
    error(404, 'That receipt was not found.', { code: 'NOT_FOUND' });
  return { receipt: result.receipt };
};
