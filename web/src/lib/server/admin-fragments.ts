/**
 * GraphQL pieces the admin queries share: the variables and arguments of a paged connection, its
 * pageInfo, and the fields of the rows more than one page shows. Each row's fields match its
 * type in #lib/components/admin/types.ts (the tables there render them).
 */

/** A paged query's variables: `query X($userId: ID, ${PAGE_VARIABLES})`. */
export const PAGE_VARIABLES = '$first: Int, $after: String, $last: Int, $before: String';

/** Passes them to the connection: `users(email: $email, ${PAGE_ARGUMENTS})`. */
export const PAGE_ARGUMENTS = 'first: $first, after: $after, last: $last, before: $before';

/** A connection's pageInfo (PageInfo). */
export const PAGE_INFO = /* GraphQL */ `
  pageInfo {
    hasNextPage
    hasPreviousPage
    startCursor
    endCursor
  }
`;

/** UserRef. */
export const USER_REF_FIELDS = /* GraphQL */ `
  id
  email
  displayName
`;

/** LedgerRow. */
export const LEDGER_ROW_FIELDS = /* GraphQL */ `
  id
  userId
  createdAt
  kind
  amountCents
  balanceAfterCents
  currency
  reference
  note
`;

/** PaymentRow (without `user`). */
export const PAYMENT_ROW_FIELDS = /* GraphQL */ `
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
`;
