import {
  type Plan,
  type PlanDiscount,
  type PlanQuote,
  purchasePlan,
  quotePlan,
} from '@hero/core/billing/plans';
import { Billing } from '@hero/core/entities/billing.entity';
import { PlanPurchase } from '@hero/core/entities/plan-purchase.entity';
import { User } from '@hero/core/entities/user.entity';
import {
  CurrencyMismatchError,
  EmailNotVerifiedError,
  InsufficientCreditError,
  NotFoundError,
  ValidationError,
} from '@hero/core/errors';
import { builder } from '../builder.ts';
import { BillingType, UserType } from './user.ts';

const PlanDiscountType = builder.objectRef<PlanDiscount>('PlanDiscount').implement({
  description: 'A step of the discount ladder: from `periods` committed periods on, `percent` off.',
  fields: (t) => ({
    periods: t.exposeInt('periods'),
    percent: t.exposeFloat('percent'),
  }),
});

const PlanType = builder.objectRef<Plan>('Plan').implement({
  description:
    'A plan users can buy (PLANS_JSON / PLANS_FILE): VM quota for a period, prepaid from the balance.',
  fields: (t) => ({
    code: t.exposeString('code'),
    name: t.exposeString('name'),
    vmQuota: t.exposeInt('vmQuota'),
    periodDays: t.exposeInt('periodDays'),
    priceCents: t.expose('priceCents', { type: 'SafeInt', description: 'Price of one period.' }),
    currency: t.exposeString('currency'),
    discounts: t.field({ type: [PlanDiscountType], resolve: (p) => p.discounts }),
  }),
});

export const PlanQuoteType = builder.objectRef<PlanQuote>('PlanQuote').implement({
  description:
    'The price of a number of periods: discount = floor(subtotal × percent / 100) in whole cents, price = subtotal − discount.',
  fields: (t) => ({
    plan: t.field({ type: PlanType, resolve: (q) => q.plan }),
    periods: t.exposeInt('periods'),
    unitPriceCents: t.expose('unitPriceCents', { type: 'SafeInt' }),
    subtotalCents: t.expose('subtotalCents', { type: 'SafeInt' }),
    discountPercent: t.exposeFloat('discountPercent'),
    discountCents: t.expose('discountCents', { type: 'SafeInt' }),
    priceCents: t.expose('priceCents', { type: 'SafeInt' }),
    currency: t.exposeString('currency'),
  }),
});

const PlanPurchaseType = builder.objectType(PlanPurchase, {
  name: 'PlanPurchase',
  fields: (t) => ({
    id: t.exposeID('id'),
    userId: t.exposeID('userId'),
    planCode: t.exposeString('planCode'),
    planName: t.exposeString('planName'),
    periods: t.exposeInt('periods'),
    vmQuota: t.exposeInt('vmQuota'),
    priceCents: t.expose('priceCents', { type: 'SafeInt' }),
    discountPercent: t.exposeFloat('discountPercent'),
    currency: t.exposeString('currency'),
    periodStart: t.expose('periodStart', { type: 'DateTime' }),
    periodEnd: t.expose('periodEnd', { type: 'DateTime' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

interface PurchaseResult {
  purchase: PlanPurchase;
  userId: string;
  allocationsRedated: number;
}

const PurchaseResultType = builder.objectRef<PurchaseResult>('PlanPurchaseResult').implement({
  fields: (t) => ({
    purchase: t.field({ type: PlanPurchaseType, resolve: (r) => r.purchase }),
    user: t.field({
      type: UserType,
      resolve: (r, _args, ctx) => ctx.em.findOneOrFail(User, r.userId, { refresh: true }),
    }),
    billing: t.field({
      type: BillingType,
      resolve: (r, _args, ctx) => ctx.em.findOneOrFail(Billing, { user: r.userId }, { refresh: true }),
    }),
    allocationsRedated: t.exposeInt('allocationsRedated', {
      description: 'ACTIVE allocations that now expire at the new period end.',
    }),
  }),
});

builder.queryField('plans', (t) =>
  t.field({
    type: [PlanType],
    description: 'Admin or user: the plans on offer, with their discount ladders.',
    authScopes: { adminRead: true, user: true },
    resolve: (_root, _args, ctx) => ctx.settings.plans.plans,
  }),
);

builder.queryField('quotePlan', (t) =>
  t.field({
    type: PlanQuoteType,
    description: 'Admin or user: what `periods` periods of a plan cost, with the discount that applies.',
    authScopes: { adminRead: true, user: true },
    args: { planCode: t.arg.string(), periods: t.arg.int() },
    errors: {
      types: [NotFoundError, ValidationError],
      union: { name: 'QuotePlanResult' },
      result: { name: 'QuotePlanSuccess' },
      dataField: { name: 'quote' },
    },
    resolve: (_root, args, ctx) => quotePlan(ctx.settings.plans, args.planCode, args.periods),
  }),
);

builder.mutationField('purchasePlan', (t) =>
  t.field({
    type: PurchaseResultType,
    description:
      "User: buy `periods` periods of a plan from the balance (discount ladder applied). Sets vmQuota and the period end (extended from the current end when it is still ahead) and re-dates the user's ACTIVE allocations to that end. INSUFFICIENT_CREDIT and EMAIL_NOT_VERIFIED (the account's email is not verified) change nothing.",
    authScopes: { user: true },
    args: { planCode: t.arg.string(), periods: t.arg.int() },
    errors: {
      types: [
        InsufficientCreditError,
        NotFoundError,
        ValidationError,
        CurrencyMismatchError,
        EmailNotVerifiedError,
      ],
      union: { name: 'PurchasePlanResult' },
      result: { name: 'PurchasePlanSuccess' },
      dataField: { name: 'result' },
    },
    resolve: async (_root, args, ctx) => {
      const userId = ctx.user!.id;
      const result = await purchasePlan(ctx.em, ctx.settings.plans, {
        userId,
        planCode: args.planCode,
        periods: args.periods,
      });
      return { purchase: result.purchase, userId, allocationsRedated: result.allocationsRedated };
    },
  }),
);

builder.objectField(UserType, 'planPurchases', (t) =>
  t.field({
    type: [PlanPurchaseType],
    description: "The user's plan purchases, newest first (the last 50).",
    resolve: (user, _args, ctx) =>
      ctx.em.find(
        PlanPurchase,
        { userId: user.id },
        { orderBy: { createdAt: 'desc', id: 'desc' }, limit: 50 },
      ),
  }),
);
