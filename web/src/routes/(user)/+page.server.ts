import { graphql, type ResultOf, readFragment } from '@hero/graphql';
import { error, fail, type RequestEvent, redirect } from '@sveltejs/kit';
import { rateLimitMessage } from '#lib/components/dashboard/auth-form.ts';
import { DashboardCreditStatus } from '#lib/components/dashboard/credit-status.ts';
import { PlanTileFields } from '#lib/components/plans/plan-tile.ts';
import { formatMoney } from '#lib/format.ts';
import { gql } from '#lib/server/api.ts';
import { setAutoRenewAction } from '#lib/server/auto-renew.ts';
import { describeUserFailure } from '#lib/server/user.ts';
import { safeHttpUrl } from '#lib/url.ts';
import type { Actions, PageServerLoad } from './$types';
import { DashboardLedgerPage, type LedgerRow, ledgerChart, windowStart } from './ledger-chart.ts';

const LEDGER_PAGE = 100; // the API's largest page
const LEDGER_MAX_ROWS = 500; // enough for 30 days of a busy user; the chart stops there

const DASHBOARD = graphql(
  `
    query UserDashboard($first: Int!) {
      topUpOptions {
        currency
      }
      me {
        id
        email
        displayName
        vmQuota
        vmQuotaPeriodEnd
        billing {
          creditBalanceCents
          currency
          creditStatus {
            ...DashboardCreditStatus
          }
        }
        allocations(status: ACTIVE) {
          id
          status
          allocatedAt
          expiresAt
          expiringSoon
          cockpitUrl
          poolVm {
            id
            name
            host
          }
        }
        ledger(first: $first) {
          ...DashboardLedgerPage
        }
        recentPayments {
          id
          kind
          amountCents
          currency
          createdAt
        }
        ...PlanTileFields
      }
    }
  `,
  [DashboardLedgerPage, DashboardCreditStatus, PlanTileFields],
);

const MORE_LEDGER = graphql(
  `
    query UserLedgerPage($first: Int!, $after: String!) {
      me {
        ledger(first: $first, after: $after) {
          ...DashboardLedgerPage
        }
      }
    }
  `,
  [DashboardLedgerPage],
);

/** An API error on the load: back to sign in, or the error page. */
function apiFailure(event: Pick<RequestEvent, 'cookies' | 'url'>, err: unknown): never {
  const { status, code, message } = describeUserFailure(event, err);
  error(status, message, { code });
}

export const load: PageServerLoad = async (event) => {
  const now = new Date();
  const since = windowStart(now).getTime();
  let me: ResultOf<typeof DASHBOARD>['me'];
  let topUpAvailable = false;
  const rows: LedgerRow[] = [];
  try {
    let topUpOptions: ResultOf<typeof DASHBOARD>['topUpOptions'];
    ({ me, topUpOptions } = await gql(event, DASHBOARD, { first: LEDGER_PAGE }));
    topUpAvailable = topUpOptions !== null;
    let page = readFragment(DashboardLedgerPage, me.ledger);
    rows.push(...page.edges.map((e) => e.node));
    // Newest first: read on until a row older than the window, the end, or the cap.
    while (
      page.pageInfo.hasNextPage &&
      page.pageInfo.endCursor &&
      rows.length < LEDGER_MAX_ROWS &&
      rows.length > 0 &&
      new Date(rows[rows.length - 1].createdAt).getTime() >= since
    ) {
      const more = await gql(event, MORE_LEDGER, { first: LEDGER_PAGE, after: page.pageInfo.endCursor });
      page = readFragment(DashboardLedgerPage, more.me.ledger);
      rows.push(...page.edges.map((e) => e.node));
    }
  } catch (err) {
    apiFailure(event, err);
  }

  return {
    me: {
      displayName: me.displayName,
      vmQuota: me.vmQuota,
      vmQuotaPeriodEnd: me.vmQuotaPeriodEnd,
      balanceCents: me.billing.creditBalanceCents,
      currency: me.billing.currency,
    },
    plan: readFragment(PlanTileFields, me).planStatus,
    allocations: me.allocations
      .filter((a) => a.status === 'ACTIVE')
      .map((a) => ({ ...a, cockpitUrl: safeHttpUrl(a.cockpitUrl) })),
    chart: ledgerChart(rows, now),
    payments: me.recentPayments,
    credit: readFragment(DashboardCreditStatus, me.billing.creditStatus),
    // Without self-serve top-up, credit comes from an operator: the banner points at the plans.
    addCreditHref: topUpAvailable ? '/credit' : '/plans',
    /** Self-serve top-up (Stripe Checkout) is on: the balance tile offers "Add credit". */
    topUpAvailable,
    /** `?release=<id>`: the confirmation panel for pages without JavaScript. */
    confirmRelease: event.url.searchParams.get('release'),
  };
};

const ALLOCATE = graphql(`
  mutation UserAllocateVm {
    allocateVm {
      __typename
      ... on AllocateVmSuccess {
        allocation {
          id
          expiresAt
          poolVm {
            id
            name
          }
        }
      }
      ... on Error {
        code
        message
      }
      ... on QuotaExceededError {
        vmQuota
        activeAllocations
      }
      ... on NoActivePlanError {
        periodEnd
      }
      ... on BalanceNegativeError {
        balanceCents
        currency
      }
    }
  }
`);

const RELEASE = graphql(`
  mutation UserReleaseAllocation($id: ID!) {
    releaseMyAllocation(id: $id) {
      __typename
      ... on ReleaseMyAllocationSuccess {
        allocation {
          id
          poolVm {
            id
            name
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

const RESEND_VERIFICATION = graphql(`
  mutation UserResendEmailVerification {
    resendEmailVerification {
      __typename
      ... on ResendEmailVerificationSuccess {
        email
        alreadyVerified
      }
      ... on RateLimitedError {
        retryAfterSeconds
      }
    }
  }
`);

/** What an action tells the page: a success (role="status") or an error (role="alert"). */
export interface ActionMessage {
  action: 'allocate' | 'release' | 'resendVerification';
  success?: string;
  error?: string;
  /** The allocation the message is about (allocate: the new one). */
  allocationId?: string;
}

const POOL_EXHAUSTED_MESSAGE =
  'No VM is free in the pool right now. Try again later, or ask an operator to add capacity.';
const NOT_FOUND_MESSAGE = 'That service was not found.';

function withStop(message: string): string {
  return /[.!?]$/.test(message) ? message : `${message}.`;
}

/** A top-level error from the API on an action: back to sign in, or the error next to the form. */
function actionFailure(
  event: Pick<RequestEvent, 'cookies' | 'url'>,
  action: ActionMessage['action'],
  err: unknown,
) {
  const { status, message } = describeUserFailure(event, err);
  return fail(status, { action, error: message } satisfies ActionMessage);
}

export const actions: Actions = {
  autoRenew: setAutoRenewAction,

  resendVerification: async (event) => {
    let result: ResultOf<typeof RESEND_VERIFICATION>['resendEmailVerification'];
    try {
      ({ resendEmailVerification: result } = await gql(event, RESEND_VERIFICATION));
    } catch (err) {
      return actionFailure(event, 'resendVerification', err);
    }
    if (result.__typename === 'ResendEmailVerificationSuccess')
      return {
        action: 'resendVerification',
        success: result.alreadyVerified
          ? 'Your email is verified already.'
          : `A new link is on its way to ${result.email}. It works once, for 24 hours.`,
      } satisfies ActionMessage;
    return fail(429, {
      action: 'resendVerification',
      error: rateLimitMessage(result.retryAfterSeconds),
    } satisfies ActionMessage);
  },

  allocate: async (event) => {
    let result: ResultOf<typeof ALLOCATE>['allocateVm'];
    try {
      ({ allocateVm: result } = await gql(event, ALLOCATE));
    } catch (err) {
      return actionFailure(event, 'allocate', err);
    }
    switch (result.__typename) {
      case 'AllocateVmSuccess':
        return {
          action: 'allocate',
          success: `Allocated ${result.allocation.poolVm.name}. It is listed under Active services below.`,
          allocationId: result.allocation.id,
        } satisfies ActionMessage;
      case 'PoolExhaustedError':
        return fail(409, { action: 'allocate', error: POOL_EXHAUSTED_MESSAGE } satisfies ActionMessage);
      case 'QuotaExceededError': {
        const full = result.activeAllocations > 0 && result.activeAllocations >= result.vmQuota;
        const error = `${withStop(result.message)}${full ? ' Release one to allocate another.' : ''}`;
        return fail(409, { action: 'allocate', error } satisfies ActionMessage);
      }
      case 'NoActivePlanError': {
        // Said without the raw timestamp: what matters is what to do next.
        const error = result.periodEnd
          ? 'Your plan period has ended. Renew your plan or buy one to get a VM.'
          : 'You have no active plan yet. Buy a plan (or ask an operator for a quota) to get a VM.';
        return fail(409, { action: 'allocate', error } satisfies ActionMessage);
      }
      case 'BalanceNegativeError': {
        const balance = formatMoney(result.balanceCents, result.currency, 'en');
        const error = `Your balance is below zero (${balance}). Add credit before getting a new VM.`;
        return fail(409, { action: 'allocate', error } satisfies ActionMessage);
      }
      default:
        return fail(400, {
          action: 'allocate',
          error: withStop((result as { message: string }).message),
        } satisfies ActionMessage);
    }
  },

  release: async (event) => {
    const data = await event.request.formData();
    const id = String(data.get('id') ?? '').trim();
    if (!id) return fail(400, { action: 'release', error: NOT_FOUND_MESSAGE } satisfies ActionMessage);
    // Releasing deletes the VM's data: only from the confirmation (dialog or panel).
    if (data.get('confirmed') !== '1') redirect(303, `/?release=${encodeURIComponent(id)}`);

    let result: ResultOf<typeof RELEASE>['releaseMyAllocation'];
    try {
      ({ releaseMyAllocation: result } = await gql(event, RELEASE, { id }));
    } catch (err) {
      return actionFailure(event, 'release', err);
    }
    if (result.__typename === 'ReleaseMyAllocationSuccess') {
      return {
        action: 'release',
        success: `Released ${result.allocation.poolVm.name}`,
        allocationId: result.allocation.id,
      } satisfies ActionMessage;
    }
    return fail(404, {
      action: 'release',
      error: NOT_FOUND_MESSAGE,
      allocationId: id,
    } satisfies ActionMessage);
  },
};
