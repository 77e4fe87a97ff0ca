import { graphql } from '@hero/graphql';
import { refused } from '../client.ts';
import { defineCommand } from '../command.ts';
import { formatJson, formatKeyValues, formatMoney, formatTime } from '../format.ts';
import { resolveUser, USER_REF_VALUE } from '../user-ref.ts';
import { signedAmountCents } from '../values.ts';

export const ADJUST_BALANCE = graphql(`mutation AdjustBalance($input: AdjustBalanceInput!) {
  adjustBalance(input: $input) {
    __typename
    ... on AdjustBalanceSuccess {
      entry { id userId user { email } kind amountCents balanceAfterCents currency note createdAt }
    }
    ... on Error { code message }
    ... on ValidationError { problems { path message } }
  }
}`);

export const billingAdjust = defineCommand({
  name: 'billing adjust',
  summary: "correct a user's balance by a signed amount, with a reason (an ADJUSTMENT ledger row)",
  description:
    "Credits (positive) or debits (negative) the user's balance by --amount-cents, in the balance's\n" +
    'currency (mutation adjustBalance): one ADJUSTMENT ledger row that keeps the reason. For money\n' +
    'that came in or went back use payments record / payments refund instead. A negative amount is\n' +
    'written --amount-cents=-500. Not 0; the API refuses more than its limit either way\n' +
    '(BAD_USER_INPUT). Prints the ledger row and the balance after it.',
  options: {
    user: {
      type: 'string',
      value: USER_REF_VALUE,
      required: true,
      help: 'whose balance, by email or id, required',
    },
    'amount-cents': {
      type: 'string',
      value: '<n>',
      required: true,
      help: 'signed cents, not 0: 1250 credits 12.50, --amount-cents=-1250 debits it, required',
    },
    reason: {
      type: 'string',
      value: '<text>',
      required: true,
      help: 'why, 1 to 1000 characters (kept on the ledger row), required',
    },
  },
  parse: (values) => ({
    user: values.user('user'),
    amountCents: signedAmountCents('amount-cents', values.required('amount-cents')),
    reason: values.required('reason'),
  }),
  uses: 'api',
  async run({ client, json, io }, args) {
    const userId = await resolveUser(client, args.user);
    const { adjustBalance: result } = await client.request(ADJUST_BALANCE, {
      input: { userId, amountCents: args.amountCents, note: args.reason },
    });
    if (result.__typename !== 'AdjustBalanceSuccess') throw refused('the balance was not adjusted', result);
    const e = result.entry;
    if (json) return io.out(formatJson(e));
    io.out(
      formatKeyValues([
        ['id', e.id],
        ['kind', e.kind],
        ['user', `${e.userId}${e.user ? ` (${e.user.email})` : ''}`],
        ['amount', formatMoney(e.amountCents, e.currency)],
        ['balance', formatMoney(e.balanceAfterCents, e.currency)],
        ['reason', e.note],
        ['created', formatTime(e.createdAt)],
      ]),
    );
  },
});
