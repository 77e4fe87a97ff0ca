import { graphql, type ResultOf, readFragment } from '@hero/graphql';
import { fail } from '@sveltejs/kit';
import type { Done, FailedWith, Problem } from '#lib/components/admin/types.ts';
import { money, signedMoney } from '#lib/components/admin/util.ts';
import type { UserChoice } from '#lib/components/users/user-choice.ts';
import {
  adminGql,
  adminQuery,
  badInput,
  connectionArgs,
  enumParam,
  failedFrom,
  failedFromUnion,
  field,
  nodes,
  pageInfoOf,
  param,
  parseAmountCents,
} from '#lib/server/admin.ts';
import { ErrorFields, LedgerRowFields, PageInfoFields, UserRefFields } from '#lib/server/admin-fragments.ts';
import { loadUserChoice } from '#lib/server/user-choice.ts';
import type { Actions, PageServerLoad } from './$types';

const BILLING_ORDERS = ['BALANCE_ASC', 'BALANCE_DESC', 'UPDATED_DESC'] as const;
const LEDGER_KINDS = ['ADJUSTMENT', 'PAYMENT', 'PLAN_PURCHASE', 'REFUND', 'USAGE'] as const;

const BALANCES = graphql(
  `
    query AdminBalances(
      $userId: ID
      $orderBy: BillingOrder
      $first: Int
      $after: String
      $last: Int
      $before: String
    ) {
      billing(userId: $userId, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
        edges {
          node {
            creditBalanceCents
            currency
            updatedAt
            user {
              ...UserRefFields
            }
          }
        }
        pageInfo {
          ...PageInfoFields
        }
      }
    }
  `,
  [UserRefFields, PageInfoFields],
);

const LEDGER = graphql(
  `
    query AdminLedger($userId: ID, $kind: LedgerKind, $first: Int, $after: String, $last: Int, $before: String) {
      ledger(userId: $userId, kind: $kind, first: $first, after: $after, last: $last, before: $before) {
        edges {
          node {
            ...LedgerRowFields
          }
        }
        pageInfo {
          ...PageInfoFields
        }
      }
    }
  `,
  [LedgerRowFields, PageInfoFields],
);

const ADJUST_BALANCE = graphql(
  `
    mutation AdminAdjustBalance($input: AdjustBalanceInput!) {
      adjustBalance(input: $input) {
        __typename
        ...ErrorFields
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
  `,
  [ErrorFields],
);

const RECONCILE = graphql(`
  mutation AdminReconcileBalancesNow {
    reconcileBalancesNow {
      usersChecked
      usersDrifted
      totalDriftCents
      chainBreaks
      drifted {
        userId
        user {
          id
          email
          displayName
        }
        balanceCents
        ledgerCents
        driftCents
      }
    }
  }
`);

type ReconcileSummary = ResultOf<typeof RECONCILE>['reconcileBalancesNow'];

export const load: PageServerLoad = async (event) => {
  const { url } = event;
  const userChoice = await loadUserChoice(event, { userId: param(url, 'userId'), query: param(url, 'user') });
  const userId = userChoice.user?.id;
  const orderBy = enumParam(url, 'orderBy', BILLING_ORDERS) ?? 'BALANCE_ASC';
  const kind = enumParam(url, 'kind', LEDGER_KINDS);
  const [balances, ledger] = await Promise.all([
    adminQuery(event, BALANCES, { userId, orderBy, ...connectionArgs(url) }),
    adminQuery(event, LEDGER, { userId, kind, ...connectionArgs(url, 'ledger') }),
  ]);
  return {
    filters: { userId: userId ?? '', orderBy, kind: kind ?? '' },
    userChoice,
    balances: nodes(balances.data?.billing).map((row) => ({
      ...row,
      user: readFragment(UserRefFields, row.user),
    })),
    pageInfo: pageInfoOf(balances.data?.billing),
    error: balances.error,
    ledger: readFragment(LedgerRowFields, nodes(ledger.data?.ledger)),
    ledgerPageInfo: pageInfoOf(ledger.data?.ledger),
    ledgerError: ledger.error,
  };
};

export const actions: Actions = {
  adjustBalance: async (event) => {
    const form = await event.request.formData();
    // Without JavaScript only the typed text comes: resolved here (one user, or a choice).
    const picker = await loadUserChoice(event, { userId: field(form, 'userId'), query: field(form, 'user') });
    const values = {
      userId: picker.user?.id ?? '',
      amount: field(form, 'amount'),
      note: field(form, 'note'),
    };
    const amountCents = parseAmountCents(values.amount);
    const problems: Problem[] = [];
    if (!picker.user)
      problems.push({
        path: 'user',
        message: picker.problem ?? 'choose the user to adjust by email or name.',
      });
    if (amountCents === null || amountCents === 0)
      problems.push({
        path: 'amount',
        message: 'a signed amount other than 0, such as 5.00 (credit) or -5.00 (debit).',
      });
    if (!values.note) problems.push({ path: 'note', message: 'say why (it is kept on the ledger row).' });
    if (problems.length || amountCents === null)
      return fail(400, {
        adjustBalance: {
          ...badInput('Please correct the adjustment.', problems),
          values,
          picker,
        } satisfies FailedWith<typeof values> & { picker: UserChoice },
      });

    let result: ResultOf<typeof ADJUST_BALANCE>['adjustBalance'];
    try {
      ({ adjustBalance: result } = await adminGql(event, ADJUST_BALANCE, {
        input: { userId: values.userId, amountCents, note: values.note },
      }));
    } catch (err) {
      return fail(503, {
        adjustBalance: { ...failedFrom(err), values, picker } satisfies FailedWith<typeof values> & {
          picker: UserChoice;
        },
      });
    }
    if (result.__typename === 'AdjustBalanceSuccess') {
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
      adjustBalance: {
        ...failedFromUnion(readFragment(ErrorFields, result)),
        values,
        picker,
      } satisfies FailedWith<typeof values> & { picker: UserChoice },
    });
  },

  reconcile: async (event) => {
    try {
      const { reconcileBalancesNow: s } = await adminGql(event, RECONCILE);
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
