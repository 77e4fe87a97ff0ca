import { error, fail } from '@sveltejs/kit';
import type { Connection, Done, FailedWith, LedgerRow, PaymentRow } from '#lib/components/admin/types.ts';
import {
  adminGql,
  adminQuery,
  badInput,
  connectionArgs,
  ERROR_FIELDS,
  failedFrom,
  failedFromUnion,
  field,
  nodes,
  parseUtcDateTime,
  type UnionError,
} from '#lib/server/admin.ts';
import {
  LEDGER_ROW_FIELDS,
  PAGE_ARGUMENTS,
  PAGE_INFO,
  PAGE_VARIABLES,
  PAYMENT_ROW_FIELDS,
} from '#lib/server/admin-fragments.ts';
import type { Actions, PageServerLoad } from './$types';

const USER = /* GraphQL */ `
  query AdminUser($id: ID!, ${PAGE_VARIABLES}) {
    user(id: $id) {
      billing {
        creditBalanceCents
        currency
        updatedAt
      }
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
      ledger(${PAGE_ARGUMENTS}) {
        edges {
          node {
            ${LEDGER_ROW_FIELDS}
          }
        }
        ${PAGE_INFO}
      }
    }
    payments(userId: $id, first: 10) {
      edges {
        node {
          ${PAYMENT_ROW_FIELDS}
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
  ledger: Connection<LedgerRow>;
}

interface UserData {
  user:
    | (UserDetail & { billing: { creditBalanceCents: number; currency: string; updatedAt: string } })
    | null;
  payments: { edges: { node: PaymentRow }[]; pageInfo: { hasNextPage: boolean } };
}

export const load: PageServerLoad = async (event) => {
  const result = await adminQuery<UserData>(event, USER, {
    id: event.params.id,
    ...connectionArgs(event.url),
  });
  if (result.error !== null)
    return {
      error: result.error,
      user: null,
      billing: null,
      ledger: [],
      ledgerPageInfo: null,
      payments: [],
      morePayments: false,
    };
  const found = result.data.user;
  if (!found) error(404, { message: 'There is no user with this id.', code: 'NOT_FOUND' });
  const { billing, ledger, ...user } = found;
  return {
    error: null,
    user,
    billing,
    ledger: nodes(ledger),
    ledgerPageInfo: ledger.pageInfo,
    payments: nodes(result.data.payments),
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
          ...badInput('Please correct the quota form.', problems),
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
