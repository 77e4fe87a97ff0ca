import { fail } from '@sveltejs/kit';
import type {
  Connection,
  Done,
  FailedWith,
  PaymentRow,
  Problem,
  UserRef,
} from '#lib/components/admin/types.ts';
import { money } from '#lib/components/admin/util.ts';
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
  PAGE_ARGUMENTS,
  PAGE_INFO,
  PAGE_VARIABLES,
  PAYMENT_ROW_FIELDS,
  USER_REF_FIELDS,
} from '#lib/server/admin-fragments.ts';
import type { Actions, PageServerLoad } from './$types';

const EVENT_STATUSES = ['APPLIED', 'IGNORED', 'REFUSED'] as const;

const PAYMENTS = /* GraphQL */ `
  query AdminPayments($userId: ID, ${PAGE_VARIABLES}) {
    payments(userId: $userId, ${PAGE_ARGUMENTS}) {
      edges {
        node {
          ${PAYMENT_ROW_FIELDS}
          user {
            ${USER_REF_FIELDS}
          }
        }
      }
      ${PAGE_INFO}
    }
    billing(userId: $userId, first: 1) {
      edges {
        node {
          currency
        }
      }
    }
  }
`;

const WEBHOOK_EVENTS = /* GraphQL */ `
  query AdminWebhookEvents($status: WebhookEventStatus, ${PAGE_VARIABLES}) {
    webhookEvents(status: $status, ${PAGE_ARGUMENTS}) {
      edges {
        node {
          id
          provider
          eventId
          type
          status
          detail
          userId
          receivedAt
        }
      }
      ${PAGE_INFO}
    }
  }
`;

const PAYMENT_RESULT = /* GraphQL */ `
  result {
    payment {
      id
      amountCents
      currency
      user {
        email
      }
    }
    billing {
      creditBalanceCents
      currency
    }
  }
`;

const RECORD_PAYMENT = /* GraphQL */ `
  mutation AdminRecordPayment($input: RecordPaymentInput!) {
    recordPayment(input: $input) {
      ${ERROR_FIELDS}
      ... on RecordPaymentSuccess {
        ${PAYMENT_RESULT}
      }
    }
  }
`;

const REFUND_PAYMENT = /* GraphQL */ `
  mutation AdminRefundPayment($input: RefundPaymentInput!) {
    refundPayment(input: $input) {
      ${ERROR_FIELDS}
      ... on RefundExceedsPaymentError {
        refundableCents
      }
      ... on RefundPaymentSuccess {
        ${PAYMENT_RESULT}
      }
    }
  }
`;

interface WebhookEventRow {
  id: string;
  provider: string;
  eventId: string;
  type: string;
  status: string;
  detail: string | null;
  userId: string | null;
  receivedAt: string;
}

export const load: PageServerLoad = async (event) => {
  const { url } = event;
  const userId = param(url, 'userId');
  const eventStatus = enumParam(url, 'eventStatus', EVENT_STATUSES);
  const [payments, events] = await Promise.all([
    adminQuery<{
      payments: Connection<PaymentRow & { user: UserRef }>;
      billing: { edges: { node: { currency: string } }[] };
    }>(event, PAYMENTS, { userId, ...connectionArgs(url) }),
    adminQuery<{ webhookEvents: Connection<WebhookEventRow> }>(event, WEBHOOK_EVENTS, {
      status: eventStatus,
      ...connectionArgs(url, 'events'),
    }),
  ]);
  return {
    filters: { userId: userId ?? '', eventStatus: eventStatus ?? '' },
    payments: nodes(payments.data?.payments),
    pageInfo: payments.data?.payments.pageInfo ?? null,
    currency: payments.data?.billing.edges[0]?.node.currency ?? 'EUR',
    error: payments.error,
    events: nodes(events.data?.webhookEvents),
    eventsPageInfo: events.data?.webhookEvents.pageInfo ?? null,
    eventsError: events.error,
  };
};

type PaymentResult =
  | {
      __typename: 'RecordPaymentSuccess' | 'RefundPaymentSuccess';
      result: {
        payment: { id: string; amountCents: number; currency: string; user: { email: string } };
        billing: { creditBalanceCents: number; currency: string };
      };
    }
  | (UnionError & { refundableCents?: number });

export const actions: Actions = {
  recordPayment: async (event) => {
    const form = await event.request.formData();
    const values = {
      userId: field(form, 'userId'),
      amount: field(form, 'amount'),
      currency: field(form, 'currency').toUpperCase(),
      providerRef: field(form, 'providerRef'),
      note: field(form, 'note'),
    };
    const amountCents = parseAmountCents(values.amount);
    const problems: Problem[] = [];
    if (!values.userId) problems.push({ path: 'userId', message: 'enter the user’s id.' });
    if (amountCents === null || amountCents <= 0)
      problems.push({ path: 'amount', message: 'enter an amount above 0, such as 12.50.' });
    if (!/^[A-Z]{3}$/.test(values.currency))
      problems.push({ path: 'currency', message: 'a three-letter code such as EUR.' });
    if (problems.length)
      return fail(400, {
        recordPayment: {
          ...badInput('Please correct the payment form.', problems),
          values,
        } satisfies FailedWith<typeof values>,
      });

    let result: PaymentResult;
    try {
      ({ recordPayment: result } = await adminGql<{ recordPayment: PaymentResult }>(event, RECORD_PAYMENT, {
        input: {
          userId: values.userId,
          amountCents,
          currency: values.currency,
          providerRef: values.providerRef || null,
          note: values.note || null,
        },
      }));
    } catch (err) {
      return fail(503, { recordPayment: { ...failedFrom(err), values } satisfies FailedWith<typeof values> });
    }
    if ('result' in result) {
      const { payment, billing } = result.result;
      return {
        recordPayment: {
          ok: true,
          message: `Recorded ${money(payment.amountCents, payment.currency)} for ${payment.user.email}. Balance now ${money(billing.creditBalanceCents, billing.currency)}.`,
          paymentId: payment.id,
        } satisfies Done<{ paymentId: string }>,
      };
    }
    return fail(400, {
      recordPayment: { ...failedFromUnion(result), values } satisfies FailedWith<typeof values>,
    });
  },

  refundPayment: async (event) => {
    const form = await event.request.formData();
    const paymentId = field(form, 'paymentId');
    const values = { amount: field(form, 'amount'), note: field(form, 'note') };
    const amountCents = values.amount ? parseAmountCents(values.amount) : undefined;
    if (!paymentId || amountCents === null || (amountCents !== undefined && amountCents <= 0))
      return fail(400, {
        refundPayment: {
          ...badInput('Please correct the refund.', [
            {
              path: 'amount',
              message: 'enter an amount above 0 such as 5.00, or leave it empty to refund the rest.',
            },
          ]),
          paymentId,
          values,
        },
      });

    let result: PaymentResult;
    try {
      ({ refundPayment: result } = await adminGql<{ refundPayment: PaymentResult }>(event, REFUND_PAYMENT, {
        input: { paymentId, amountCents: amountCents ?? null, note: values.note || null },
      }));
    } catch (err) {
      return fail(503, { refundPayment: { ...failedFrom(err), paymentId, values } });
    }
    if ('result' in result) {
      const { payment, billing } = result.result;
      return {
        refundPayment: {
          ok: true,
          message: `Refunded ${money(Math.abs(payment.amountCents), payment.currency)} to ${payment.user.email}. Balance now ${money(billing.creditBalanceCents, billing.currency)}.`,
          paymentId,
        } satisfies Done<{ paymentId: string }>,
      };
    }
    return fail(400, { refundPayment: { ...failedFromUnion(result), paymentId, values } });
  },
};
