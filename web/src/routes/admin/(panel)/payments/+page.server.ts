import { graphql, type ResultOf, readFragment } from '@hero/graphql';
import { fail } from '@sveltejs/kit';
import type { Done, FailedWith, Problem } from '#lib/components/admin/types.ts';
import { money } from '#lib/components/admin/util.ts';
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
import { ErrorFields, PageInfoFields, PaymentRowFields, UserRefFields } from '#lib/server/admin-fragments.ts';
import { loadUserChoice } from '#lib/server/user-choice.ts';
import type { Actions, PageServerLoad } from './$types';

const EVENT_STATUSES = ['APPLIED', 'IGNORED', 'REFUSED'] as const;

const PAYMENTS = graphql(
  `
    query AdminPayments($userId: ID, $first: Int, $after: String, $last: Int, $before: String) {
      payments(userId: $userId, first: $first, after: $after, last: $last, before: $before) {
        edges {
          node {
            ...PaymentRowFields
            user {
              ...UserRefFields
            }
          }
        }
        pageInfo {
          ...PageInfoFields
        }
      }
      billing(userId: $userId, first: 1) {
        edges {
          node {
            currency
          }
        }
      }
    }
  `,
  [PaymentRowFields, UserRefFields, PageInfoFields],
);

const WEBHOOK_EVENTS = graphql(
  `
    query AdminWebhookEvents(
      $status: WebhookEventStatus
      $first: Int
      $after: String
      $last: Int
      $before: String
    ) {
      webhookEvents(status: $status, first: $first, after: $after, last: $last, before: $before) {
        edges {
          node {
            id
            provider
            eventId
            type
            status
            detail
            userId
            user {
              id
              email
              displayName
            }
            receivedAt
          }
        }
        pageInfo {
          ...PageInfoFields
        }
      }
    }
  `,
  [PageInfoFields],
);

/** What recording or refunding a payment answers: the payment, and the balance now. */
const PaymentResultFields = graphql(`
  fragment PaymentResultFields on PaymentResult {
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
`);

const RECORD_PAYMENT = graphql(
  `
    mutation AdminRecordPayment($input: RecordPaymentInput!) {
      recordPayment(input: $input) {
        __typename
        ...ErrorFields
        ... on RecordPaymentSuccess {
          result {
            ...PaymentResultFields
          }
        }
      }
    }
  `,
  [ErrorFields, PaymentResultFields],
);

const REFUND_PAYMENT = graphql(
  `
    mutation AdminRefundPayment($input: RefundPaymentInput!) {
      refundPayment(input: $input) {
        __typename
        ...ErrorFields
        ... on RefundExceedsPaymentError {
          refundableCents
        }
        ... on RefundPaymentSuccess {
          result {
            ...PaymentResultFields
          }
        }
      }
    }
  `,
  [ErrorFields, PaymentResultFields],
);

export const load: PageServerLoad = async (event) => {
  const { url } = event;
  const userChoice = await loadUserChoice(event, { userId: param(url, 'userId'), query: param(url, 'user') });
  const userId = userChoice.user?.id;
  const eventStatus = enumParam(url, 'eventStatus', EVENT_STATUSES);
  const [payments, events] = await Promise.all([
    adminQuery(event, PAYMENTS, { userId, ...connectionArgs(url) }),
    adminQuery(event, WEBHOOK_EVENTS, { status: eventStatus, ...connectionArgs(url, 'events') }),
  ]);
  return {
    filters: { userId: userId ?? '', eventStatus: eventStatus ?? '' },
    userChoice,
    payments: nodes(payments.data?.payments).map((row) => ({
      ...readFragment(PaymentRowFields, row),
      user: readFragment(UserRefFields, row.user),
    })),
    pageInfo: pageInfoOf(payments.data?.payments),
    currency: payments.data?.billing.edges[0]?.node.currency ?? 'EUR',
    error: payments.error,
    events: nodes(events.data?.webhookEvents),
    eventsPageInfo: pageInfoOf(events.data?.webhookEvents),
    eventsError: events.error,
  };
};

export const actions: Actions = {
  recordPayment: async (event) => {
    const form = await event.request.formData();
    // Without JavaScript only the typed text comes: resolved here (one user, or a choice).
    const picker = await loadUserChoice(event, { userId: field(form, 'userId'), query: field(form, 'user') });
    const values = {
      userId: picker.user?.id ?? '',
      amount: field(form, 'amount'),
      currency: field(form, 'currency').toUpperCase(),
      providerRef: field(form, 'providerRef'),
      note: field(form, 'note'),
    };
    const amountCents = parseAmountCents(values.amount);
    const problems: Problem[] = [];
    if (!picker.user)
      problems.push({
        path: 'user',
        message: picker.problem ?? 'choose the user to credit by email or name.',
      });
    if (amountCents === null || amountCents <= 0)
      problems.push({ path: 'amount', message: 'enter an amount above 0, such as 12.50.' });
    if (!/^[A-Z]{3}$/.test(values.currency))
      problems.push({ path: 'currency', message: 'a three-letter code such as EUR.' });
    if (problems.length || amountCents === null)
      return fail(400, {
        recordPayment: {
          ...badInput('Please correct the payment form.', problems),
          values,
          picker,
        } satisfies FailedWith<typeof values> & { picker: UserChoice },
      });

    let result: ResultOf<typeof RECORD_PAYMENT>['recordPayment'];
    try {
      ({ recordPayment: result } = await adminGql(event, RECORD_PAYMENT, {
        input: {
          userId: values.userId,
          amountCents,
          currency: values.currency,
          providerRef: values.providerRef || null,
          note: values.note || null,
        },
      }));
    } catch (err) {
      return fail(503, {
        recordPayment: { ...failedFrom(err), values, picker } satisfies FailedWith<typeof values> & {
          picker: UserChoice;
        },
      });
    }
    if (result.__typename === 'RecordPaymentSuccess') {
      const { payment, billing } = readFragment(PaymentResultFields, result.result);
      return {
        recordPayment: {
          ok: true,
          message: `Recorded ${money(payment.amountCents, payment.currency)} for ${payment.user.email}. Balance now ${money(billing.creditBalanceCents, billing.currency)}.`,
          paymentId: payment.id,
        } satisfies Done<{ paymentId: string }>,
      };
    }
    return fail(400, {
      recordPayment: {
        ...failedFromUnion(readFragment(ErrorFields, result)),
        values,
        picker,
      } satisfies FailedWith<typeof values> & { picker: UserChoice },
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

    let result: ResultOf<typeof REFUND_PAYMENT>['refundPayment'];
    try {
      ({ refundPayment: result } = await adminGql(event, REFUND_PAYMENT, {
        input: { paymentId, amountCents: amountCents ?? null, note: values.note || null },
      }));
    } catch (err) {
      return fail(503, { refundPayment: { ...failedFrom(err), paymentId, values } });
    }
    if (result.__typename === 'RefundPaymentSuccess') {
      const { payment, billing } = readFragment(PaymentResultFields, result.result);
      return {
        refundPayment: {
          ok: true,
          message: `Refunded ${money(Math.abs(payment.amountCents), payment.currency)} to ${payment.user.email}. Balance now ${money(billing.creditBalanceCents, billing.currency)}.`,
          paymentId,
        } satisfies Done<{ paymentId: string }>,
      };
    }
    return fail(400, {
      refundPayment: { ...failedFromUnion(readFragment(ErrorFields, result)), paymentId, values },
    });
  },
};
