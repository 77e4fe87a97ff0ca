/**
 * GraphQL fragments the admin operations share, and the types of the rows they select (the
 * tables in #lib/components/admin render them). An operation spreads a fragment and lists it,
 * graphql(source, [LedgerRowFields]); its result then carries the fragment masked, and
 * readFragment(LedgerRowFields, data) reads the fields.
 */
import { graphql, type ResultOf } from '@hero/graphql';

/** A connection's page: what the pagination links need. */
export const PageInfoFields = graphql(`
  fragment PageInfoFields on PageInfo {
    hasNextPage
    hasPreviousPage
    startCursor
    endCursor
  }
`);
export type PageInfo = ResultOf<typeof PageInfoFields>;

/** A user as the admin tables name and link one. */
export const UserRefFields = graphql(`
  fragment UserRefFields on User {
    id
    email
    displayName
  }
`);
export type UserRef = ResultOf<typeof UserRefFields>;

/** A ledger row (LedgerTable). */
export const LedgerRowFields = graphql(`
  fragment LedgerRowFields on LedgerEntry {
    id
    userId
    user {
      id
      email
      displayName
    }
    createdAt
    kind
    amountCents
    balanceAfterCents
    currency
    reference
    note
  }
`);
export type LedgerRow = ResultOf<typeof LedgerRowFields>;

/** A payment or refund (PaymentsTable), without its user. */
export const PaymentRowFields = graphql(`
  fragment PaymentRowFields on PaymentEvent {
    id
    kind
    amountCents
    currency
    provider
    providerRef
    refundOfId
    refundedCents
    note
    createdAt
  }
`);
/** A payment row; `user` where the query selects it (UserRefFields). */
export type PaymentRow = ResultOf<typeof PaymentRowFields> & { user?: UserRef };

/**
 * The error members of a result union: spread it beside `__typename` and the success member
 * (`… { __typename ...ErrorFields ... on XSuccess { … } }`), then failedFromUnion(readFragment(…)).
 */
export const ErrorFields = graphql(`
  fragment ErrorFields on Error {
    code
    message
    ... on ValidationError {
      problems {
        path
        message
      }
    }
  }
`);
