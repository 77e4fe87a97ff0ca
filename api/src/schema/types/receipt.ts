import { type PaymentReceipt, paymentReceipt, type ReceiptRefund } from '@hero/core/billing/statements';
import { NotFoundError } from '@hero/core/errors';
import { builder } from '../builder.ts';

const ReceiptRefundType = builder.objectRef<ReceiptRefund>('ReceiptRefund').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    amountCents: t.expose('amountCents', { type: 'SafeInt', description: 'What went back (positive).' }),
    currency: t.exposeString('currency'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    note: t.exposeString('note', { nullable: true }),
  }),
});

const PaymentReceiptType = builder.objectRef<PaymentReceipt>('PaymentReceipt').implement({
  description: 'One payment (CREDIT) or refund (REFUND) of the viewer, with what followed from it.',
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.exposeString('kind', { description: 'CREDIT (money in) or REFUND (money back).' }),
    amountCents: t.expose('amountCents', { type: 'SafeInt' }),
    currency: t.exposeString('currency'),
    provider: t.exposeString('provider'),
    providerRef: t.exposeString('providerRef'),
    note: t.exposeString('note', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    balanceAfterCents: t.expose('balanceAfterCents', {
      type: 'SafeInt',
      nullable: true,
      description: 'The balance right after it (its ledger row).',
    }),
    refundOfId: t.exposeID('refundOfId', {
      nullable: true,
      description: 'A REFUND: the payment it gave back.',
    }),
    refunds: t.field({
      type: [ReceiptRefundType],
      description: 'A CREDIT: its refunds, oldest first.',
      resolve: (r) => r.refunds,
    }),
    netCents: t.expose('netCents', {
      type: 'SafeInt',
      description: 'A CREDIT: amount − refunds; a REFUND: its amount.',
    }),
  }),
});

builder.queryField('receipt', (t) =>
  t.field({
    type: PaymentReceiptType,
    description: "User: the receipt of one of the viewer's payments or refunds; anyone else's is NOT_FOUND.",
    authScopes: { user: true },
    args: { paymentId: t.arg.id() },
    errors: {
      types: [NotFoundError],
      union: { name: 'ReceiptResult' },
      result: { name: 'ReceiptSuccess' },
      dataField: { name: 'receipt' },
    },
    resolve: (_root, args, ctx) => paymentReceipt(ctx.em, ctx.user!.id, String(args.paymentId)),
  }),
);
