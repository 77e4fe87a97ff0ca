import { graphql, type ResultOf } from '@hero/graphql';
import { collectPages, refused } from '../client.ts';
import { defineCommand } from '../command.ts';
import { UsageError } from '../errors.ts';
import { formatJson, formatKeyValues, formatMoney, formatTable, formatTime } from '../format.ts';
import { resolveOptionalUser, resolveUser, USER_REF_VALUE } from '../user-ref.ts';
import { amountCents } from '../values.ts';

const DEFAULT_PAYMENTS_LIMIT = 50;

/** An ISO 4217 currency code: three letters, answered upper-case (`eur` → `EUR`). */
export function currencyCode(flag: string, value: string): string {
  const code = value.trim();
  if (!/^[A-Za-z]{3}$/.test(code))
    throw new UsageError(
      `--${flag} must be a three-letter ISO 4217 currency code such as EUR (got "${value}")`,
    );
  return code.toUpperCase();
}

/** A payment as every payments command shows it (unmasked: read as part of the operation's result). */
const PaymentFields = graphql(`fragment PaymentFields on PaymentEvent @_unmask {
  id kind amountCents currency provider providerRef refundOfId refundedCents note createdAt
  user { id email }
}`);

/** What recordPayment and refundPayment answer on success: the payment and the balance after it. */
const PaymentResultFields = graphql(
  `fragment PaymentResultFields on PaymentResult @_unmask {
  payment { ...PaymentFields }
  billing { creditBalanceCents currency }
}`,
  [PaymentFields],
);

type PaymentResult = ResultOf<typeof PaymentResultFields>;

/** A payment or refund and the balance after it, as `key  value` lines. */
function formatPaymentResult({ payment: p, billing }: PaymentResult): string {
  return formatKeyValues([
    ['id', p.id],
    ['kind', p.kind],
    ...(p.refundOfId ? ([['refund of', p.refundOfId]] as [string, string][]) : []),
    ['user', `${p.user.id} (${p.user.email})`],
    ['amount', formatMoney(p.amountCents, p.currency)],
    ['currency', p.currency],
    ['provider', p.provider],
    ['ref', p.providerRef],
    ['note', p.note],
    ['created', formatTime(p.createdAt)],
    ['balance', formatMoney(billing.creditBalanceCents, billing.currency)],
  ]);
}

// --- payments record ------------------------------------------------------------------------

export const RECORD_PAYMENT = graphql(
  `mutation RecordPayment($input: RecordPaymentInput!) {
  recordPayment(input: $input) {
    __typename
    ... on RecordPaymentSuccess { result { ...PaymentResultFields } }
    ... on Error { code message }
    ... on ValidationError { problems { path message } }
  }
}`,
  [PaymentResultFields],
);

export const paymentsRecord = defineCommand({
  name: 'payments record',
  summary: "record a payment received for a user (credits the user's balance)",
  description:
    "Records money that came in (mutation recordPayment) and credits it to the user's balance, in\n" +
    "the balance's currency (another currency is refused: CURRENCY_MISMATCH). Amounts are integer\n" +
    'cents: --amount-cents 1250 is 12.50. A provider reference already recorded for the same provider\n' +
    'is refused (DUPLICATE_PAYMENT), so recording the same payment twice credits it once.\n' +
    'Prints the payment and the new balance.',
  options: {
    user: {
      type: 'string',
      value: USER_REF_VALUE,
      required: true,
      help: 'the user who paid, by email or id, required',
    },
    'amount-cents': {
      type: 'string',
      value: '<n>',
      required: true,
      help: 'the amount in cents, a whole number >= 1 (1250 = 12.50), required',
    },
    currency: {
      type: 'string',
      value: '<ISO code>',
      required: true,
      help: 'the currency (e.g. EUR), required',
    },
    ref: {
      type: 'string',
      value: '<providerRef>',
      help: "the provider's reference, unique per provider (default: <provider>-<random UUID>)",
    },
    provider: {
      type: 'string',
      value: '<name>',
      help: 'who took the payment: lowercase letters, digits, - or _ (default manual)',
    },
    note: { type: 'string', value: '<text>', help: 'a note kept with the payment' },
  },
  parse: (values) => ({
    user: values.user('user'),
    amountCents: amountCents('amount-cents', values.required('amount-cents')),
    currency: currencyCode('currency', values.required('currency')),
    provider: values.optional('provider'),
    providerRef: values.optional('ref'),
    note: values.optional('note'),
  }),
  uses: 'api',
  async run({ client, json, io }, args) {
    const userId = await resolveUser(client, args.user);
    const { recordPayment: result } = await client.request(RECORD_PAYMENT, {
      input: {
        userId,
        amountCents: args.amountCents,
        currency: args.currency,
        provider: args.provider ?? null,
        providerRef: args.providerRef ?? null,
        note: args.note ?? null,
      },
    });
    if (result.__typename !== 'RecordPaymentSuccess') throw refused('the payment was not recorded', result);
    io.out(json ? formatJson(result.result) : formatPaymentResult(result.result));
  },
});

// --- payments refund ------------------------------------------------------------------------

export const REFUND_PAYMENT = graphql(
  `mutation RefundPayment($input: RefundPaymentInput!) {
  refundPayment(input: $input) {
    __typename
    ... on RefundPaymentSuccess { result { ...PaymentResultFields } }
    ... on Error { code message }
    ... on ValidationError { problems { path message } }
  }
}`,
  [PaymentResultFields],
);

export const paymentsRefund = defineCommand({
  name: 'payments refund',
  summary: 'refund (part of) a payment and debit it from the balance',
  description:
    'Refunds a recorded payment (mutation refundPayment): --amount-cents of it, or without it\n' +
    'everything not yet refunded. More than what is left of the payment is refused\n' +
    '(REFUND_EXCEEDS_PAYMENT). Prints the refund event and the new balance.',
  options: {
    payment: {
      type: 'string',
      value: '<paymentId>',
      required: true,
      help: 'the payment to refund, required',
    },
    'amount-cents': {
      type: 'string',
      value: '<n>',
      help: 'how much to refund, in cents (default: everything not yet refunded)',
    },
    note: { type: 'string', value: '<text>', help: 'a note kept with the refund' },
  },
  parse(values) {
    const amount = values.string('amount-cents');
    return {
      paymentId: values.required('payment').trim(),
      amountCents: amount === undefined ? undefined : amountCents('amount-cents', amount),
      note: values.optional('note'),
    };
  },
  uses: 'api',
  async run({ client, json, io }, args) {
    const { refundPayment: result } = await client.request(REFUND_PAYMENT, {
      input: {
        paymentId: args.paymentId,
        amountCents: args.amountCents ?? null,
        note: args.note ?? null,
      },
    });
    if (result.__typename !== 'RefundPaymentSuccess') throw refused('the payment was not refunded', result);
    io.out(json ? formatJson(result.result) : formatPaymentResult(result.result));
  },
});

// --- payments list --------------------------------------------------------------------------

export const PAYMENTS = graphql(
  `query Payments($userId: ID, $first: Int, $after: String) {
  payments(userId: $userId, first: $first, after: $after) {
    edges { node { ...PaymentFields } }
    pageInfo { hasNextPage endCursor }
  }
}`,
  [PaymentFields],
);

export const paymentsList = defineCommand({
  name: 'payments list',
  summary: 'list payments and refunds, newest first',
  options: {
    user: { type: 'string', value: USER_REF_VALUE, help: "only this user's payments (by email or id)" },
    limit: {
      type: 'string',
      value: '<n>',
      help: `at most this many (default ${DEFAULT_PAYMENTS_LIMIT}; pages are followed)`,
    },
  },
  parse: (values) => ({
    user: values.optionalUser('user'),
    limit: values.positiveInt('limit', DEFAULT_PAYMENTS_LIMIT),
  }),
  uses: 'api',
  async run({ client, json, io }, { user, limit }) {
    const userId = await resolveOptionalUser(client, user);
    const payments = await collectPages(limit, async (first, after) => {
      const data = await client.request(PAYMENTS, {
        userId: userId ?? null,
        first,
        after,
      });
      return data.payments;
    });
    if (json) return io.out(formatJson(payments));
    if (payments.length === 0) return io.out(userId ? 'no payments for this user\n' : 'no payments\n');
    io.out(
      formatTable(
        ['id', 'created', 'user email', 'kind', 'amount', 'currency', 'provider', 'ref', 'refunded'],
        payments.map((p) => [
          p.id,
          formatTime(p.createdAt),
          p.user.email,
          p.kind,
          formatMoney(p.amountCents, p.currency),
          p.currency,
          p.provider,
          p.providerRef,
          // what was refunded of a payment; a refund itself has nothing refunded
          p.kind === 'REFUND' ? null : formatMoney(p.refundedCents, p.currency),
        ]),
      ),
    );
  },
});
