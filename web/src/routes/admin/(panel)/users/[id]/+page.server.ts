import { graphql, type ResultOf, readFragment } from '@hero/graphql';
import { error, fail } from '@sveltejs/kit';
import { type QuotaState, quotaChangeMessage } from '#lib/components/admin/describe.ts';
import type { Done, FailedWith } from '#lib/components/admin/types.ts';
import { money } from '#lib/components/admin/util.ts';
import { monthParam, StatementFields } from '#lib/components/statements/statement.ts';
import {
  adminGql,
  adminQuery,
  badInput,
  connectionArgs,
  failedFrom,
  failedFromUnion,
  field,
  nodes,
  pageInfoOf,
  parseUtcDateTime,
} from '#lib/server/admin.ts';
import {
  ErrorFields,
  LedgerRowFields,
  PageInfoFields,
  PaymentRowFields,
} from '#lib/server/admin-fragments.ts';
import type { Actions, PageServerLoad } from './$types';

const USER = graphql(
  `
    query AdminUser($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
      user(id: $id) {
        billing {
          creditBalanceCents
          currency
          updatedAt
        }
        id
        email
        emailVerified
        displayName
        forgeId
        status
        suspendedAt
        suspendedReason
        deletedAt
        vmQuota
        vmQuotaPeriodEnd
        autoRenew
        planStatus {
          planName
          renewal {
            priceCents
            currency
          }
        }
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
              ...LedgerRowFields
            }
          }
          pageInfo {
            ...PageInfoFields
          }
        }
      }
      payments(userId: $id, first: 10) {
        edges {
          node {
            ...PaymentRowFields
          }
        }
        pageInfo {
          hasNextPage
        }
      }
    }
  `,
  [LedgerRowFields, PageInfoFields, PaymentRowFields],
);

const SET_QUOTA = graphql(
  `
    mutation AdminSetUserQuota($userId: ID!, $vmQuota: Int!, $periodEnd: DateTime) {
      setUserQuota(userId: $userId, vmQuota: $vmQuota, periodEnd: $periodEnd) {
        __typename
        ...ErrorFields
        ... on SetUserQuotaSuccess {
          user {
            id
            vmQuota
            vmQuotaPeriodEnd
          }
        }
      }
    }
  `,
  [ErrorFields],
);

/** The quota before a change, so the outcome says what the change did. */
const QUOTA_BEFORE = graphql(`
  query AdminUserQuota($id: ID!) {
    user(id: $id) {
      vmQuota
      vmQuotaPeriodEnd
    }
  }
`);

const EXTEND_ALLOCATION = graphql(
  `
    mutation AdminExtendAllocation($id: ID!, $expiresAt: DateTime!, $reason: String!) {
      extendAllocation(id: $id, expiresAt: $expiresAt, reason: $reason) {
        __typename
        ...ErrorFields
        ... on ExtendAllocationSuccess {
          result {
            allocation {
              id
              expiresAt
            }
          }
        }
      }
    }
  `,
  [ErrorFields],
);

const REVOKE_SESSIONS = graphql(`
  mutation AdminRevokeUserSessions($userId: ID!) {
    revokeUserSessions(userId: $userId)
  }
`);

const RESEND_INVITATION = graphql(
  `
    mutation AdminResendInvitation($userId: ID!) {
      resendInvitation(userId: $userId) {
        __typename
        ...ErrorFields
        ... on ResendInvitationSuccess {
          payload {
            invitationUrl
          }
        }
      }
    }
  `,
  [ErrorFields],
);

const SUSPEND = graphql(
  `
    mutation AdminSuspendUser($userId: ID!, $reason: String!, $releaseVms: Boolean) {
      suspendUser(userId: $userId, reason: $reason, releaseVms: $releaseVms) {
        __typename
        ...ErrorFields
        ... on SuspendUserSuccess {
          payload {
            sessionsEnded
            allocationsReleased
          }
        }
      }
    }
  `,
  [ErrorFields],
);

const UNSUSPEND = graphql(
  `
    mutation AdminUnsuspendUser($userId: ID!) {
      unsuspendUser(userId: $userId) {
        __typename
        ...ErrorFields
      }
    }
  `,
  [ErrorFields],
);

const DELETE_USER = graphql(
  `
    mutation AdminDeleteUser($userId: ID!, $confirmEmail: String!, $force: Boolean) {
      deleteUser(userId: $userId, confirmEmail: $confirmEmail, force: $force) {
        __typename
        ...ErrorFields
        ... on DeleteUserSuccess {
          payload {
            allocationsReleased
            balanceCents
            currency
          }
        }
      }
    }
  `,
  [ErrorFields],
);

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

const USER_STATEMENT = graphql(
  `
    query AdminUserStatement($id: ID!, $month: String!) {
      user(id: $id) {
        statementMonths
      }
      userStatement(userId: $id, month: $month) {
        __typename
        ... on UserStatementSuccess {
          statement {
            ...StatementFields
          }
        }
        ...ErrorFields
      }
    }
  `,
  [StatementFields, ErrorFields],
);

/** The user's statement of `?month=` (default: this UTC month), or why there is none. */
async function loadStatement(event: Parameters<PageServerLoad>[0]) {
  const month = monthParam(event.url.searchParams.get('month'));
  const result = await adminQuery(event, USER_STATEMENT, { id: event.params.id, month });
  if (result.error !== null) return { month, months: [], statement: null, error: result.error };
  const answer = result.data.userStatement;
  return {
    month,
    months: result.data.user?.statementMonths ?? [],
    statement: answer.__typename === 'UserStatementSuccess' ? answer.statement : null,
    error: answer.__typename === 'UserStatementSuccess' ? null : readFragment(ErrorFields, answer).message,
  };
}

export const load: PageServerLoad = async (event) => {
  const [result, statement] = await Promise.all([
    adminQuery(event, USER, { id: event.params.id, ...connectionArgs(event.url) }),
    loadStatement(event),
  ]);
  if (result.error !== null)
    return {
      error: result.error,
      user: null,
      billing: null,
      ledger: [],
      ledgerPageInfo: null,
      payments: [],
      morePayments: false,
      statement,
    };
  const found = result.data.user;
  if (!found) error(404, { message: 'There is no user with this id.', code: 'NOT_FOUND' });
  const { billing, ledger, ...user } = found;
  return {
    error: null,
    user,
    billing,
    ledger: readFragment(LedgerRowFields, nodes(ledger)),
    ledgerPageInfo: pageInfoOf(ledger),
    payments: readFragment(PaymentRowFields, nodes(result.data.payments)),
    morePayments: result.data.payments.pageInfo.hasNextPage,
    statement,
  };
};

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

    let result: ResultOf<typeof SET_QUOTA>['setUserQuota'];
    let before: QuotaState | null = null;
    try {
      const { user } = await adminGql(event, QUOTA_BEFORE, { id: event.params.id });
      before = user ? { vmQuota: user.vmQuota, periodEnd: user.vmQuotaPeriodEnd } : null;
      ({ setUserQuota: result } = await adminGql(event, SET_QUOTA, {
        userId: event.params.id,
        vmQuota,
        periodEnd: periodEnd ? periodEnd.toISOString() : null,
      }));
    } catch (err) {
      return fail(503, { setQuota: { ...failedFrom(err), values } satisfies FailedWith<typeof values> });
    }
    if (result.__typename === 'SetUserQuotaSuccess') {
      const { vmQuota: quota, vmQuotaPeriodEnd } = result.user;
      return {
        setQuota: {
          ok: true,
          message: quotaChangeMessage(before, { vmQuota: quota, periodEnd: vmQuotaPeriodEnd }),
          periodEnd: vmQuotaPeriodEnd,
        } satisfies Done<{ periodEnd: string | null }>,
      };
    }
    return fail(400, {
      setQuota: {
        ...failedFromUnion(readFragment(ErrorFields, result)),
        values,
      } satisfies FailedWith<typeof values>,
    });
  },

  extend: async (event) => {
    const form = await event.request.formData();
    const values = {
      id: field(form, 'id'),
      expiresAt: field(form, 'expiresAt'),
      reason: field(form, 'reason'),
    };
    const problems = [];
    const expiresAt = parseUtcDateTime(values.expiresAt);
    if (!expiresAt) problems.push({ path: 'expiresAt', message: 'enter the new end, a date and time.' });
    if (!values.reason.trim())
      problems.push({ path: 'reason', message: 'say why (it is kept with the allocation).' });
    if (!values.id) problems.push({ path: 'id', message: 'which allocation? The id is missing.' });
    if (problems.length || !expiresAt)
      return fail(400, {
        extend: { ...badInput('Please correct the extension.', problems), values } satisfies FailedWith<
          typeof values
        >,
      });

    let result: ResultOf<typeof EXTEND_ALLOCATION>['extendAllocation'];
    try {
      ({ extendAllocation: result } = await adminGql(event, EXTEND_ALLOCATION, {
        id: values.id,
        expiresAt: expiresAt.toISOString(),
        reason: values.reason,
      }));
    } catch (err) {
      return fail(503, { extend: { ...failedFrom(err), values } satisfies FailedWith<typeof values> });
    }
    if (result.__typename === 'ExtendAllocationSuccess')
      return {
        extend: {
          ok: true,
          message: 'Allocation extended; the reason is kept with it.',
          expiresAt: result.result.allocation.expiresAt,
        } satisfies Done<{ expiresAt: string }>,
      };
    return fail(400, {
      extend: {
        ...failedFromUnion(readFragment(ErrorFields, result)),
        values,
      } satisfies FailedWith<typeof values>,
    });
  },

  revokeSessions: async (event) => {
    try {
      const { revokeUserSessions: n } = await adminGql(event, REVOKE_SESSIONS, { userId: event.params.id });
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

  suspend: async (event) => {
    const form = await event.request.formData();
    // Kept as typed, for the form sent back to be corrected.
    const values = {
      reason: field(form, 'reason'),
      releaseVms: field(form, 'releaseVms') === 'on' ? 'on' : '',
    };
    const releaseVms = values.releaseVms === 'on';
    if (!values.reason.trim())
      return fail(400, {
        suspend: {
          ...badInput('Please say why.', [
            { path: 'reason', message: 'say why (it is kept with the account and sent to the user).' },
          ]),
          values,
        } satisfies FailedWith<typeof values>,
      });
    let result: ResultOf<typeof SUSPEND>['suspendUser'];
    try {
      ({ suspendUser: result } = await adminGql(event, SUSPEND, {
        userId: event.params.id,
        reason: values.reason,
        releaseVms,
      }));
    } catch (err) {
      return fail(503, { suspend: { ...failedFrom(err), values } satisfies FailedWith<typeof values> });
    }
    if (result.__typename === 'SuspendUserSuccess') {
      const { sessionsEnded, allocationsReleased } = result.payload;
      return {
        suspend: {
          ok: true,
          message: `Suspended: ${plural(sessionsEnded, 'session')} ended${releaseVms ? `, ${plural(allocationsReleased, 'VM')} released` : ''}.`,
        } satisfies Done,
      };
    }
    return fail(400, {
      suspend: { ...failedFromUnion(readFragment(ErrorFields, result)), values } satisfies FailedWith<
        typeof values
      >,
    });
  },

  unsuspend: async (event) => {
    let result: ResultOf<typeof UNSUSPEND>['unsuspendUser'];
    try {
      ({ unsuspendUser: result } = await adminGql(event, UNSUSPEND, { userId: event.params.id }));
    } catch (err) {
      return fail(503, { unsuspend: failedFrom(err) });
    }
    if (result.__typename === 'UnsuspendUserSuccess')
      return {
        unsuspend: {
          ok: true,
          message: 'The suspension is lifted: the user can sign in again.',
        } satisfies Done,
      };
    return fail(400, { unsuspend: failedFromUnion(readFragment(ErrorFields, result)) });
  },

  delete: async (event) => {
    const form = await event.request.formData();
    const values = {
      confirmEmail: field(form, 'confirmEmail'),
      force: field(form, 'force') === 'on' ? 'on' : '',
    };
    if (!values.confirmEmail.trim())
      return fail(400, {
        delete: {
          ...badInput('Type the email to confirm.', [
            { path: 'confirmEmail', message: "type the user's email to confirm." },
          ]),
          values,
        } satisfies FailedWith<typeof values>,
      });
    let result: ResultOf<typeof DELETE_USER>['deleteUser'];
    try {
      ({ deleteUser: result } = await adminGql(event, DELETE_USER, {
        userId: event.params.id,
        confirmEmail: values.confirmEmail,
        force: values.force === 'on',
      }));
    } catch (err) {
      return fail(503, { delete: { ...failedFrom(err), values } satisfies FailedWith<typeof values> });
    }
    if (result.__typename === 'DeleteUserSuccess') {
      const { allocationsReleased, balanceCents, currency } = result.payload;
      const kept =
        balanceCents === 0 ? '' : ` Its ledger keeps the balance of ${money(balanceCents, currency)}.`;
      return {
        delete: {
          ok: true,
          message: `The account was deleted: personal data erased, ${plural(allocationsReleased, 'VM')} released.${kept}`,
        } satisfies Done,
      };
    }
    return fail(400, {
      delete: { ...failedFromUnion(readFragment(ErrorFields, result)), values } satisfies FailedWith<
        typeof values
      >,
    });
  },

  resendInvitation: async (event) => {
    let result: ResultOf<typeof RESEND_INVITATION>['resendInvitation'];
    try {
      ({ resendInvitation: result } = await adminGql(event, RESEND_INVITATION, { userId: event.params.id }));
    } catch (err) {
      return fail(503, { resendInvitation: failedFrom(err) });
    }
    if (result.__typename === 'ResendInvitationSuccess')
      return {
        resendInvitation: {
          ok: true,
          message: 'A new invitation was emailed; the earlier links no longer work.',
          invitationUrl: result.payload.invitationUrl,
        } satisfies Done<{ invitationUrl: string }>,
      };
    return fail(400, { resendInvitation: failedFromUnion(readFragment(ErrorFields, result)) });
  },
};
