import { loadOverview, type Overview } from '@hero/core/admin/overview';
import { adjustBalance, type BalanceDrift, type UsageDrift } from '@hero/core/billing/ledger';
import {
  BILLING_ORDERS,
  pageBilling,
  pageLedgerEntries,
  pagePaymentEvents,
} from '@hero/core/billing/list-billing';
import { type PaymentResult, recordPayment, refundedSoFar, refundPayment } from '@hero/core/billing/payments';
import { RECONCILE_LISTED, type ReconcileSummary, reconcileBalancesNow } from '@hero/core/billing/reconcile';
import { Billing } from '@hero/core/entities/billing.entity';
import { LEDGER_KINDS, LedgerEntry } from '@hero/core/entities/ledger-entry.entity';
import { PaymentEvent } from '@hero/core/entities/payment-event.entity';
import { User } from '@hero/core/entities/user.entity';
import {
  CurrencyMismatchError,
  DuplicatePaymentError,
  NotFoundError,
  RefundExceedsPaymentError,
  ValidationError,
} from '@hero/core/errors';
import { isUuid } from '@hero/core/lib/ids';
import { resolveOffsetConnection } from '@pothos/plugin-relay';
import { builder } from '../builder.ts';
import { BillingType, UserType } from './user.ts';

builder.objectField(BillingType, 'user', (t) =>
  t.field({
    type: UserType,
    description: 'Whose balance this is.',
    resolve: (b, _args, ctx) => ctx.em.findOneOrFail(User, b.user.id),
  }),
);

const BillingOrderEnum = builder.enumType('BillingOrder', { values: BILLING_ORDERS });

const PaymentEventType = builder.objectType(PaymentEvent, {
  name: 'PaymentEvent',
  description: 'Money that came in (or went back) for a user.',
  fields: (t) => ({
    id: t.exposeID('id'),
    user: t.field({ type: UserType, resolve: (p, _args, ctx) => ctx.em.findOneOrFail(User, p.user.id) }),
    amountCents: t.expose('amountCents', { type: 'SafeInt' }),
    currency: t.exposeString('currency'),
    provider: t.exposeString('provider'),
    providerRef: t.exposeString('providerRef'),
    kind: t.exposeString('kind', { description: 'CREDIT (money in) or REFUND (money back).' }),
    refundOfId: t.id({
      nullable: true,
      description: 'For a REFUND: the payment it gives back.',
      resolve: (p) => p.refundOf?.id ?? null,
    }),
    refundedCents: t.field({
      type: 'SafeInt',
      description: 'For a CREDIT: how much of it has been refunded so far (0 for a REFUND).',
      resolve: async (p, _args, ctx) => {
        if (p.kind !== 'CREDIT') return 0;
        return (await refundedSoFar(ctx.em, p.id)).cents;
      },
    }),
    note: t.exposeString('note', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const PaymentResultType = builder.objectRef<PaymentResult>('PaymentResult').implement({
  description: 'A payment or refund and the balance right after it.',
  fields: (t) => ({
    payment: t.field({ type: PaymentEventType, resolve: (r) => r.payment }),
    billing: t.field({
      type: BillingType,
      resolve: (r, _args, ctx) =>
        ctx.em.findOneOrFail(Billing, { user: r.payment.user.id }, { refresh: true }),
    }),
  }),
});

const RecordPaymentInput = builder.inputType('RecordPaymentInput', {
  fields: (t) => ({
    userId: t.id(),
    amountCents: t.field({
      type: 'SafeInt',
      description: 'More than 0, in the smallest unit of the currency.',
    }),
    currency: t.string({ description: "Must be the user's billing currency (ISO 4217, e.g. EUR)." }),
    provider: t.string({ required: false, description: 'Where the money came from; default `manual`.' }),
    providerRef: t.string({
      required: false,
      description:
        "The provider's reference (unique per provider: a payment is never recorded twice). Default: generated.",
    }),
    note: t.string({ required: false }),
  }),
});

builder.mutationField('recordPayment', (t) =>
  t.field({
    type: PaymentResultType,
    description:
      "Admin: credit a user (a CREDIT payment event and a PAYMENT ledger row). The currency must be the user's billing currency.",
    authScopes: { billing: true },
    args: { input: t.arg({ type: RecordPaymentInput }) },
    errors: {
      types: [ValidationError, NotFoundError, CurrencyMismatchError, DuplicatePaymentError],
      union: { name: 'RecordPaymentResult' },
      result: { name: 'RecordPaymentSuccess' },
      dataField: { name: 'result' },
    },
    resolve: (_root, { input }, ctx) =>
      recordPayment(ctx.em, {
        userId: String(input.userId),
        amountCents: input.amountCents,
        currency: input.currency,
        provider: input.provider ?? undefined,
        providerRef: input.providerRef ?? undefined,
        note: input.note ?? undefined,
      }),
  }),
);

const RefundPaymentInput = builder.inputType('RefundPaymentInput', {
  fields: (t) => ({
    paymentId: t.id(),
    amountCents: t.field({
      type: 'SafeInt',
      required: false,
      description: 'Default: everything not refunded yet.',
    }),
    note: t.string({ required: false }),
  }),
});

builder.mutationField('refundPayment', (t) =>
  t.field({
    type: PaymentResultType,
    description:
      'Admin: give (part of) a payment back: a REFUND payment event and a REFUND ledger row. Refunds never add up to more than the payment.',
    authScopes: { billing: true },
    args: { input: t.arg({ type: RefundPaymentInput }) },
    errors: {
      types: [ValidationError, NotFoundError, RefundExceedsPaymentError],
      union: { name: 'RefundPaymentResult' },
      result: { name: 'RefundPaymentSuccess' },
      dataField: { name: 'result' },
    },
    resolve: (_root, { input }, ctx) =>
      refundPayment(ctx.em, {
        paymentId: String(input.paymentId),
        amountCents: input.amountCents ?? undefined,
        note: input.note ?? undefined,
      }),
  }),
);

// --- ledger ---------------------------------------------------------------------------------

const LedgerKindEnum = builder.enumType('LedgerKind', { values: LEDGER_KINDS });

const LedgerEntryType = builder.objectType(LedgerEntry, {
  name: 'LedgerEntry',
  description: 'One change to a balance (append-only). A balance is the sum of its ledger.',
  fields: (t) => ({
    id: t.id({ resolve: (e) => String(e.id) }),
    userId: t.exposeID('userId'),
    user: t.field({
      type: UserType,
      nullable: true,
      description: 'The user whose balance it changed, while the user is still there.',
      resolve: (e, _args, ctx) => ctx.loaders.user.load(e.userId),
    }),
    kind: t.field({ type: LedgerKindEnum, resolve: (e) => e.kind }),
    amountCents: t.expose('amountCents', {
      type: 'SafeInt',
      description: 'Signed: credits > 0, debits < 0.',
    }),
    balanceAfterCents: t.expose('balanceAfterCents', { type: 'SafeInt' }),
    currency: t.exposeString('currency'),
    reference: t.exposeString('reference', {
      nullable: true,
      description: 'The payment, plan purchase or usage node (`usage:<node>`) it belongs to.',
    }),
    note: t.exposeString('note', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryField('ledger', (t) =>
  t.connection({
    type: LedgerEntryType,
    description: 'Admin: ledger rows, newest first, optionally for one user and/or of one kind.',
    authScopes: { adminRead: true },
    args: { userId: t.arg.id({ required: false }), kind: t.arg({ type: LedgerKindEnum, required: false }) },
    resolve: (_root, args, ctx) => {
      const userId = args.userId ? String(args.userId) : undefined;
      if (userId && !isUuid(userId)) return resolveOffsetConnection({ args }, () => []);
      return resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
        pageLedgerEntries(ctx.em, { userId, kind: args.kind ?? undefined }, limit, offset),
      );
    },
  }),
);

builder.objectField(UserType, 'ledger', (t) =>
  t.connection({
    type: LedgerEntryType,
    description: "The user's ledger, newest first: every payment, refund, plan purchase and usage debit.",
    resolve: (user, args, ctx) =>
      resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
        pageLedgerEntries(ctx.em, { userId: user.id }, limit, offset),
      ),
  }),
);

const AdjustBalanceInput = builder.inputType('AdjustBalanceInput', {
  fields: (t) => ({
    userId: t.id(),
    amountCents: t.field({ type: 'SafeInt', description: 'Signed, not 0: credit > 0, debit < 0.' }),
    note: t.string({ description: 'Why (kept on the ledger row).' }),
  }),
});

builder.mutationField('adjustBalance', (t) =>
  t.field({
    type: LedgerEntryType,
    description:
      "Admin: a manual correction of a user's balance, as an ADJUSTMENT ledger row with its reason.",
    authScopes: { billing: true },
    args: { input: t.arg({ type: AdjustBalanceInput }) },
    errors: {
      types: [ValidationError, NotFoundError],
      union: { name: 'AdjustBalanceResult' },
      result: { name: 'AdjustBalanceSuccess' },
      dataField: { name: 'entry' },
    },
    resolve: (_root, { input }, ctx) =>
      adjustBalance(ctx.em, {
        userId: String(input.userId),
        amountCents: input.amountCents,
        note: input.note,
      }),
  }),
);

// --- reconciliation -------------------------------------------------------------------------

const BalanceDriftType = builder.objectRef<BalanceDrift>('BalanceDrift').implement({
  fields: (t) => ({
    userId: t.exposeID('userId'),
    user: t.field({
      type: UserType,
      nullable: true,
      description: 'The user, while still there.',
      resolve: (d, _args, ctx) => ctx.loaders.user.load(d.userId),
    }),
    balanceCents: t.expose('balanceCents', { type: 'SafeInt' }),
    ledgerCents: t.expose('ledgerCents', { type: 'SafeInt', description: "Sum of the user's ledger rows." }),
    driftCents: t.expose('driftCents', { type: 'SafeInt', description: 'balance − ledger.' }),
  }),
});

const UsageDriftType = builder.objectRef<UsageDrift>('UsageDrift').implement({
  description: "A user whose usage debits on the ledger differ from the sum of the user's consumed records.",
  fields: (t) => ({
    userId: t.exposeID('userId'),
    user: t.field({
      type: UserType,
      nullable: true,
      description: 'The user, while still there.',
      resolve: (d, _args, ctx) => ctx.loaders.user.load(d.userId),
    }),
    ledgerUsageCents: t.expose('ledgerUsageCents', {
      type: 'SafeInt',
      description: "What the user's USAGE ledger rows debited (a positive amount).",
    }),
    consumedCents: t.expose('consumedCents', {
      type: 'SafeInt',
      description: "Sum of the cost of the user's consumed usage records.",
    }),
    driftCents: t.expose('driftCents', { type: 'SafeInt', description: 'ledger usage − consumed.' }),
  }),
});

const ReconcileSummaryType = builder.objectRef<ReconcileSummary>('ReconcileSummary').implement({
  description: 'What a reconciliation run found (it changes nothing).',
  fields: (t) => ({
    usersChecked: t.exposeInt('usersChecked'),
    usersDrifted: t.exposeInt('usersDrifted', {
      description: 'Balances that differ from the sum of their ledger.',
    }),
    totalDriftCents: t.expose('totalDriftCents', { type: 'SafeInt', description: 'Sum of |drift|.' }),
    chainBreaks: t.exposeInt('chainBreaks', {
      description: "Ledger rows whose balanceAfterCents does not follow from the user's previous row.",
    }),
    drifted: t.field({
      type: [BalanceDriftType],
      description: `The largest drifts (first ${RECONCILE_LISTED}).`,
      resolve: (s) => s.drifted,
    }),
    usageUsersChecked: t.exposeInt('usageUsersChecked', {
      description: 'Users with usage debits on the ledger or consumed usage records.',
    }),
    usageUsersDrifted: t.exposeInt('usageUsersDrifted', {
      description: 'Users whose usage debits on the ledger differ from the sum of their consumed records.',
    }),
    usageTotalDriftCents: t.expose('usageTotalDriftCents', {
      type: 'SafeInt',
      description: 'Sum of |ledger usage − consumed| over all users.',
    }),
    usageDrifted: t.field({
      type: [UsageDriftType],
      description: `The largest usage drifts (first ${RECONCILE_LISTED}).`,
      resolve: (s) => s.usageDrifted,
    }),
  }),
});

builder.mutationField('reconcileBalancesNow', (t) =>
  t.field({
    type: ReconcileSummaryType,
    description:
      "Admin: recompute every balance from the ledger, and every user's usage debits from their consumed records, now and report drift (recorded as a MANUAL `reconcile` job run; changes nothing). ALREADY_RUNNING (409) while another run holds the lock.",
    authScopes: { operate: true, billing: true },
    resolve: (_root, _args, ctx) => reconcileBalancesNow(ctx.em, ctx.log.child({ job: 'reconcile' })),
  }),
);

builder.queryField('billing', (t) =>
  t.connection({
    type: BillingType,
    description: "Admin: every user's balance, lowest first by default.",
    authScopes: { adminRead: true },
    args: {
      userId: t.arg.id({ required: false }),
      orderBy: t.arg({ type: BillingOrderEnum, required: false, defaultValue: 'BALANCE_ASC' }),
    },
    resolve: (_root, args, ctx) => {
      const userId = args.userId ? String(args.userId) : undefined;
      if (userId && !isUuid(userId)) return resolveOffsetConnection({ args }, () => []);
      return resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
        pageBilling(ctx.em, { userId, order: args.orderBy ?? 'BALANCE_ASC' }, limit, offset),
      );
    },
  }),
);

builder.queryField('payments', (t) =>
  t.connection({
    type: PaymentEventType,
    description: 'Admin: payment events, newest first, optionally for one user.',
    authScopes: { adminRead: true },
    args: { userId: t.arg.id({ required: false }) },
    resolve: (_root, args, ctx) => {
      const userId = args.userId ? String(args.userId) : undefined;
      if (userId && !isUuid(userId)) return resolveOffsetConnection({ args }, () => []);
      return resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
        pagePaymentEvents(ctx.em, { userId }, limit, offset),
      );
    },
  }),
);

const PoolCountsType = builder.objectRef<Overview['pool']>('PoolCounts').implement({
  fields: (t) => ({
    total: t.exposeInt('total', { description: 'Pool VMs not RETIRED.' }),
    free: t.exposeInt('free'),
    allocated: t.exposeInt('allocated'),
  }),
});

const FailingNodeType = builder
  .objectRef<Overview['aggregator']['failingNodes'][number]>('FailingNode')
  .implement({
    fields: (t) => ({
      nodeName: t.exposeString('nodeName'),
      lastError: t.exposeString('lastError'),
      lastRunAt: t.expose('lastRunAt', { type: 'DateTime', nullable: true }),
    }),
  });

const AggregatorHealthType = builder.objectRef<Overview['aggregator']>('AggregatorHealth').implement({
  fields: (t) => ({
    lastRunAt: t.expose('lastRunAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the last aggregation run (scheduled or manual) finished.',
    }),
    lastRunStatus: t.exposeString('lastRunStatus', { nullable: true, description: 'SUCCEEDED or FAILED.' }),
    lastSuccessAt: t.expose('lastSuccessAt', { type: 'DateTime', nullable: true }),
    failingNodes: t.field({
      type: [FailingNodeType],
      description: 'Nodes whose last run failed (first 100).',
      resolve: (a) => a.failingNodes,
    }),
  }),
});

const LedgerHealthType = builder.objectRef<Overview['ledger']>('LedgerHealth').implement({
  description: 'What the last finished reconciliation (the `reconcile` job or reconcileBalancesNow) found.',
  fields: (t) => ({
    lastCheckedAt: t.expose('lastCheckedAt', { type: 'DateTime', nullable: true }),
    lastRunStatus: t.exposeString('lastRunStatus', { nullable: true, description: 'SUCCEEDED or FAILED.' }),
    usersDrifted: t.exposeInt('usersDrifted', { nullable: true }),
    totalDriftCents: t.expose('totalDriftCents', { type: 'SafeInt', nullable: true }),
    chainBreaks: t.exposeInt('chainBreaks', { nullable: true }),
  }),
});

const OverviewType = builder.objectRef<Overview>('Overview').implement({
  description: 'The admin dashboard tiles.',
  fields: (t) => ({
    totalUsers: t.exposeInt('totalUsers'),
    totalBalanceCents: t.expose('totalBalanceCents', { type: 'SafeInt' }),
    consumedRecords: t.exposeInt('consumedRecords'),
    rejectedRecords: t.exposeInt('rejectedRecords'),
    activeAllocations: t.exposeInt('activeAllocations'),
    pool: t.field({ type: PoolCountsType, resolve: (o) => o.pool }),
    aggregator: t.field({ type: AggregatorHealthType, resolve: (o) => o.aggregator }),
    ledger: t.field({ type: LedgerHealthType, resolve: (o) => o.ledger }),
  }),
});

builder.queryField('overview', (t) =>
  t.field({
    type: OverviewType,
    description:
      'Admin: totals for the dashboard (users, balances, consumed records, aggregator health, pool).',
    authScopes: { adminRead: true },
    resolve: (_root, _args, ctx) => loadOverview(ctx.em),
  }),
);

builder.objectField(UserType, 'recentPayments', (t) =>
  t.field({
    type: [PaymentEventType],
    description: "The user's last 10 payments and refunds, newest first (each has a `receipt`).",
    resolve: (user, _args, ctx) => pagePaymentEvents(ctx.em, { userId: user.id }, 10, 0),
  }),
);
