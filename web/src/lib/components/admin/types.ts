/**
 * Shapes shared by the admin routes (server) and their components (browser): action results and
 * table rows (the rows match the field lists of #lib/server/admin-fragments.ts).
 */

/** One problem with an input; `path` says where (e.g. `pool[2].cockpitUrl`). */
export interface Problem {
  path: string;
  message: string;
}

/** An action that did not do what was asked: the words for people, and every problem. */
export interface Failed {
  ok: false;
  code: string;
  message: string;
  problems: Problem[];
}

/** An action that did what was asked, with what it has to show. */
export type Done<T extends object = object> = { ok: true; message: string } & T;

/** What a result box shows: success (role="status") or failure (role="alert"). */
export type Outcome = { ok: true; message: string } | Failed;

/** Returned when a form is sent back to be corrected: what was typed (never secrets). */
export type FailedWith<V extends Record<string, string>> = Failed & { values: V };

/** A connection's page: what the pagination links need. */
export interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

/** A connection as the admin queries select it: `edges { node { … } }` and PAGE_INFO. */
export interface Connection<T> {
  edges: { node: T }[];
  pageInfo: PageInfo;
}

/** A user as the admin tables name and link one (USER_REF_FIELDS). */
export interface UserRef {
  id: string;
  email: string;
  displayName: string;
}

/** A ledger row (LEDGER_ROW_FIELDS). */
export interface LedgerRow {
  id: string;
  userId: string;
  createdAt: string;
  kind: string;
  amountCents: number;
  balanceAfterCents: number;
  currency: string;
  reference: string | null;
  note: string | null;
}

/** A payment or refund (PAYMENT_ROW_FIELDS); `user` where the query selects it (USER_REF_FIELDS). */
export interface PaymentRow {
  id: string;
  kind: string;
  amountCents: number;
  currency: string;
  provider: string;
  providerRef: string;
  refundOfId: string | null;
  refundedCents: number;
  note: string | null;
  createdAt: string;
  user?: UserRef;
}
