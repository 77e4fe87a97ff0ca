import { fail } from '@sveltejs/kit';
import type {
  Connection,
  Done,
  FailedWith,
  LedgerRow,
  Problem,
  UserRef,
} from '#lib/components/admin/types.ts';
import { money, signedMoney } from '#lib/components/admin/util.ts';
import {
  adminGql,
  adminQuery,
  badInput,
  connectionArgs,
  ERROR_FIELDS,
  enumParam,
  failedFrom,
  failedFromUnion,
  field,
  nodes,
  param,
  parseAmountCents,
  type UnionError,
} from '#lib/server/admin.ts';
import {
  LEDGER_ROW_FIELDS,
  PAGE_ARGUMENTS,
  PAGE_INFO,
  PAGE_VARIABLES,
  USER_REF_FIELDS,
} from '#lib/server/admin-fragments.ts';
import type { Actions, PageServerLoad } from './$types';

const BILLING_ORDERS = ['BALANCE_ASC', 'BALANCE_DESC', 'UPDATED_DESC'] as const;
const LEDGER_KINDS = ['ADJUSTMENT', 'PAYMENT', 'PLAN_PURCHASE', 'REFUND', 'USAGE'] as const;

const BALANCES = /* GraphQL */ `
  query AdminBalances($userId: ID, $orderBy: BillingOrder, ${PAGE_VARIABLES}) {
    billing(userId: $userId, orderBy: $orderBy, ${PAGE_ARGUMENTS}) {
      edges {
        node {
          creditBalanceCents
          currency
          updatedAt
          user {
            ${USER_REF_FIELDS}
          }
        }
      }
      ${PAGE_INFO}
    }
  }
`;

const LEDGER = /* GraphQL */ `
  query AdminLedger($userId: ID, $kind: LedgerKind, ${PAGE_VARIABLES}) {
    ledger(userId: $userId, kind: $kind, ${PAGE_ARGUMENTS}) {
      edges {
        node {
          ${LEDGER_ROW_FIELDS}
        }
      }
      ${PAGE_INFO}
    }
  }
`;

const ADJUST_BALANCE = /* GraphQL */ `
  mutation AdminAdjustBalance($input: AdjustBalanceInput!) {
    adjustBalance(input: $input) {
      ${ERROR_FIELDS}
      ... on AdjustBalanceSuccess {
        entry {
          id
          amountCents
          balanceAfterCents
          currency
          userId
        }
      }
    }
  }
`;

const RECONCILE = /* GraphQL */ `
  mutation AdminReconcileBalancesNow {
    reconcileBalancesNow {
      usersChecked
      usersDrifted
      totalDriftCents
      chainBreaks
      drifted {
        userId
        balanceCents
        ledgerCents
        driftCents
      }
    }
  }
`;

interface BalanceRow {
  creditBalanceCents: number;
  currency: string;
  updatedAt: string;
  user: UserRef;
}

export const load: PageServerLoad = async (event) => {
  const { url } = event;
  const userId = param(url, 'userId');
  const orderBy = enumParam(url, 'orderBy', BILLING_ORDERS) ?? 'BALANCE_ASC';
  const kind = enumParam(url, 'kind', LEDGER_KINDS);
  const [balances, ledger] = await Promise.all([
    adminQuery<{ billing: Connection<BalanceRow> }>(event, BALANCES, {
      userId,
      orderBy,
      ...connectionArgs(url),
    }),
    adminQuery<{ ledger: Connection<LedgerRow> }>(event, LEDGER, {
      userId,
      kind,
      ...connectionArgs(url, 'ledger'),
    }),
  ]);
  return {
    filters: { userId: userId ?? '', orderBy, kind: kind ?? '' },
    balances: nodes(balances.data?.billing),
    pageInfo: balances.data?.billing.pageInfo ?? null,
    error: balances.error,
    ledger: nodes(ledger.data?.ledger),
    ledgerPageInfo: ledger.data?.ledger.pageInfo ?? null,
    ledgerError: ledger.error,
  };
};

type AdjustResult =
  | {
      __typename: 'AdjustBalanceSuccess';
      entry: { id: string; amountCents: number; balanceAfterCents: number; currency: string; userId: string };
    }
  | UnionError;

interface ReconcileSummary {
  usersChecked: number;
  usersDrifted: number;
  totalDriftCents: number;
  chainBreaks: number;
  drifted: { userId: string; balanceCents: number; ledgerCents: number; driftCents: number }[];
}

export const actions: Actions = {
  adjustBalance: async (event) => {
    const form = await event.request.formData();
    const values = {
      userId: field(form, 'userId'),
      amount: field(form, 'amount'),
      note: field(form, 'note'),
    };
    const amountCents = parseAmountCents(values.amount);
    const problems: Problem[] = [];
    if (!values.userId) problems.push({ path: 'userId', message: 'enter the user’s id.' });
    if (amountCents === null || amountCents === 0)
      problems.push({
        path: 'amount',
        message: 'a signed amount other than 0, such as 5.00 (credit) or -5.00 (debit).',
      });
    if (!values.note) problems.push({ path: 'note', message: 'say why (it is kept on the ledger row).' });
    if (problems.length)
      return fail(400, {
        adjustBalance: {
          ...badInput('Please correct the adjustment.', problems),
          values,
        } satisfies FailedWith<typeof values>,
      });

    let result: AdjustResult;
    try {
      ({ adjustBalance: result } = await adminGql<{ adjustBalance: AdjustResult }>(event, ADJUST_BALANCE, {
        input: { userId: values.userId, amountCents, note: values.note },
      }));
    } catch (err) {
      return fail(503, { adjustBalance: { ...failedFrom(err), values } satisfies FailedWith<typeof values> });
    }
    if ('entry' in result) {
      const { entry } = result;
      return {
        adjustBalance: {
          ok: true,
          message: `Balance adjusted by ${signedMoney(entry.amountCents, entry.currency)}. It is now ${money(entry.balanceAfterCents, entry.currency)}.`,
          userId: entry.userId,
        } satisfies Done<{ userId: string }>,
      };
    }
    return fail(400, {
      adjustBalance: { ...failedFromUnion(result), values } satisfies FailedWith<typeof values>,
    });
  },

  reconcile: async (event) => {
    try {
      const { reconcileBalancesNow: s } = await adminGql<{ reconcileBalancesNow: ReconcileSummary }>(
        event,
        RECONCILE,
      );
      const clean = s.usersDrifted === 0 && s.chainBreaks === 0;
      return {
        reconcile: {
          ok: true,
          message: clean
            ? `Ledger checked: ${s.usersChecked} user${s.usersChecked === 1 ? '' : 's'}, no drift, no chain break.`
            : `Ledger checked: ${s.usersChecked} user${s.usersChecked === 1 ? '' : 's'}, ${s.usersDrifted} drifted (total ${money(s.totalDriftCents, null)}), ${s.chainBreaks} chain break${s.chainBreaks === 1 ? '' : 's'}.`,
          summary: s,
        } satisfies Done<{ summary: ReconcileSummary }>,
      };
    } catch (err) {
      return fail(503, {
        reconcile: failedFrom(err, {
          ALREADY_RUNNING: 'A ledger check is already running. Try again when it is done.',
        }),
      });
    }
  },
};
