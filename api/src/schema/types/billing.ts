import { resolveOffsetConnection } from '@pothos/plugin-relay';
import { loadOverview, type Overview } from '../../admin/overview.ts';
import { Billing } from '../../entities/billing.entity.ts';
import { PaymentEvent } from '../../entities/payment-event.entity.ts';
import { User } from '../../entities/user.entity.ts';
import { isUuid } from '../../lib/ids.ts';
import { BILLING_ORDERS } from '../../repositories/billing.repository.ts';
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
    kind: t.exposeString('kind'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryField('billing', (t) =>
  t.connection({
    type: BillingType,
    description: "Admin: every user's balance, lowest first by default.",
    authScopes: { admin: true },
    args: {
      userId: t.arg.id({ required: false }),
      orderBy: t.arg({ type: BillingOrderEnum, required: false, defaultValue: 'BALANCE_ASC' }),
    },
    resolve: (_root, args, ctx) => {
      const userId = args.userId ? String(args.userId) : undefined;
      if (userId && !isUuid(userId)) return resolveOffsetConnection({ args }, () => []);
      return resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
        ctx.em.getRepository(Billing).page({ userId, order: args.orderBy ?? 'BALANCE_ASC' }, limit, offset),
      );
    },
  }),
);

builder.queryField('payments', (t) =>
  t.connection({
    type: PaymentEventType,
    description: 'Admin: payment events, newest first, optionally for one user.',
    authScopes: { admin: true },
    args: { userId: t.arg.id({ required: false }) },
    resolve: (_root, args, ctx) => {
      const userId = args.userId ? String(args.userId) : undefined;
      if (userId && !isUuid(userId)) return resolveOffsetConnection({ args }, () => []);
      return resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
        ctx.em.getRepository(PaymentEvent).page({ userId }, limit, offset),
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
  }),
});

builder.queryField('overview', (t) =>
  t.field({
    type: OverviewType,
    description:
      'Admin: totals for the dashboard (users, balances, consumed records, aggregator health, pool).',
    authScopes: { admin: true },
    resolve: (_root, _args, ctx) => loadOverview(ctx.em),
  }),
);
