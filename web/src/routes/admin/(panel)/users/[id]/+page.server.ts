import { error, fail } from '@sveltejs/kit';
import type { Done, FailedWith } from '#lib/components/admin/types.ts';
import {
  adminGql,
  adminQuery,
  connectionArgs,
  ERROR_FIELDS,
  failedFrom,
  failedFromUnion,
  field,
  PAGE_INFO,
  parseUtcDateTime,
  type UnionError,
} from '#lib/server/admin.ts';
import type { Actions, PageServerLoad } from './$types';

// There is no `user(id)` query: the user's billing row (1:1) leads to the user.
const USER = /* GraphQL */ `
  query AdminUser($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
    billing(userId: $id, first: 1) {
      edges {
        node {
          creditBalanceCents
          currency
          updatedAt
          user {
            id
            email
            displayName
            forgeId
            vmQuota
            vmQuotaPeriodEnd
            createdAt
            activeSessions
            allocations(status: ACTIVE) {
              id
              expiresAt
              poolVm {
                id
                name
              }
            }
            ledger(first: $first, after: $after, last: $last, before: $before) {
              edges {
                node {
                  id
                  createdAt
                  kind
                  amountCents
                  balanceAfterCents
                  currency
                  reference
                  note
                }
              }
              ${PAGE_INFO}
            }
          }
        }
      }
    }
    payments(userId: $id, first: 10) {
      edges {
        node {
          id
          kind
          amountCents
          currency
          provider
          providerRef
          refundedCents
          note
          createdAt
        }
      }
      pageInfo {
        hasNextPage
      }
    }
  }
`;

const SET_QUOTA = /* GraphQL */ `
  mutation AdminSetUserQuota($userId: ID!, $vmQuota: Int!, $periodEnd: DateTime) {
    setUserQuota(userId: $userId, vmQuota: $vmQuota, periodEnd: $periodEnd) {
      ${ERROR_FIELDS}
      ... on SetUserQuotaSuccess {
        user {
          id
          vmQuota
          vmQuotaPeriodEnd
        }
      }
    }
  }
`;

const REVOKE_SESSIONS = /* GraphQL */ `
  mutation AdminRevokeUserSessions($userId: ID!) {
    revokeUserSessions(userId: $userId)
  }
`;

interface LedgerRow {
  id: string;
  createdAt: string;
  kind: string;
  amountCents: number;
  balanceAfterCents: number;
  currency: string;
  reference: string | null;
  note: string | null;
}

interface UserDetail {
  id: string;
  email: string;
  displayName: string;
  forgeId: string | null;
  vmQuota: number;
  vmQuotaPeriodEnd: string | null;
  createdAt: string;
  activeSessions: number;
  allocations: { id: string; expiresAt: string; poolVm: { id: string; name: string } }[];
  ledger: {
    edges: { node: LedgerRow }[];
    pageInfo: {
      hasNextPage: boolean;
      hasPreviousPage: boolean;
      startCursor: string | null;
      endCursor: string | null;
    };
  };
}

interface PaymentRow {
  id: string;
  kind: string;
  amountCents: number;
  currency: string;
  provider: string;
  providerRef: string;
  refundedCents: number;
  note: string | null;
  createdAt: string;
}

interface UserData {
  billing: {
    edges: { node: { creditBalanceCents: number; currency: string; updatedAt: string; user: UserDetail } }[];
  };
  payments: { edges: { node: PaymentRow }[]; pageInfo: { hasNextPage: boolean } };
}

export const load: PageServerLoad = async (event) => {
  const result = await adminQuery<UserData>(event, USER, {
    id: event.params.id,
    ...connectionArgs(event.url),
  });
  if (result.error !== null)
    return { error: result.error, user: null, billing: null, payments: [], morePayments: false };
  const row = result.data.billing.edges[0]?.node;
  if (!row) error(404, { message: 'There is no user with this id.', code: 'NOT_FOUND' });
  const { user, ...billing } = row;
  return {
    error: null,
    user,
    billing,
    payments: result.data.payments.edges.map((e) => e.node),
    morePayments: result.data.payments.pageInfo.hasNextPage,
  };
};

type SetQuotaResult =
  | {
      __typename: 'SetUserQuotaSuccess';
      user: { id: string; vmQuota: number; vmQuotaPeriodEnd: string | null };
    }
  | UnionError;

export const actions: Actions = {
  setQuota: async (event) => {
    const form = await event.request.formData();
    const values = { vmQuota: field(form, 'vmQuota'), periodEnd: field(form, 'periodEnd') };
    const problems = [];
    const vmQuota = Number(values.vmQuota);
    if (!/^\d+$/.test(values.vmQuota) || !Number.isSafeInteger(vmQuota))
      problems.push({ path: 'vmQuota', message: 'enter a whole number, 0 or more.' });
    const periodEnd = parseUtcDateTime(values.periodEnd);
    if (periodEnd === undefined)
      problems.push({
        path: 'periodEnd',
        message: 'enter a date and time, or leave it empty.',
      });
    if (problems.length)
      return fail(400, {
        setQuota: {
          ok: false,
          code: 'BAD_USER_INPUT',
          message: 'Please correct the quota form.',
          problems,
          values,
        } satisfies FailedWith<typeof values>,
      });

    let result: SetQuotaResult;
    try {
      ({ setUserQuota: result } = await adminGql<{ setUserQuota: SetQuotaResult }>(event, SET_QUOTA, {
        userId: event.params.id,
        vmQuota,
        periodEnd: periodEnd ? periodEnd.toISOString() : null,
      }));
    } catch (err) {
      return fail(503, { setQuota: { ...failedFrom(err), values } satisfies FailedWith<typeof values> });
    }
    if ('user' in result) {
      const { vmQuota: quota, vmQuotaPeriodEnd } = result.user;
      return {
        setQuota: {
          ok: true,
          message: `Quota set to ${quota} VM${quota === 1 ? '' : 's'}${vmQuotaPeriodEnd ? '' : ', without a plan period end'}.`,
          periodEnd: vmQuotaPeriodEnd,
        } satisfies Done<{ periodEnd: string | null }>,
      };
    }
    return fail(400, {
      setQuota: { ...failedFromUnion(result), values } satisfies FailedWith<typeof values>,
    });
  },

  revokeSessions: async (event) => {
    try {
      const { revokeUserSessions: n } = await adminGql<{ revokeUserSessions: number }>(
        event,
        REVOKE_SESSIONS,
        {
          userId: event.params.id,
        },
      );
      return {
        revokeSessions: {
          ok: true,
          message:
            n === 0
              ? 'There was no live session to end.'
              : `Ended ${n} session${n === 1 ? '' : 's'}: the user must sign in again.`,
          revoked: n,
        } satisfies Done<{ revoked: number }>,
      };
    } catch (err) {
      return fail(503, { revokeSessions: failedFrom(err) });
    }
  },
};
