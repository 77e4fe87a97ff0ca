import {
  type StartedTopUp,
  startTopUpCheckout,
  type TopUpCheckoutState,
  type TopUpOptions,
  topUpCheckoutStatus,
  topUpOptions,
} from '@hero/core/billing/checkout';
import {
  EmailNotVerifiedError,
  NotFoundError,
  PaymentProviderError,
  TopUpAmountError,
  TopUpUnavailableError,
} from '@hero/core/errors';
import { builder } from '../builder.ts';

const TopUpOptionsType = builder.objectRef<TopUpOptions>('TopUpOptions').implement({
  description: 'What a user may add to the balance through Stripe Checkout.',
  fields: (t) => ({
    minCents: t.expose('minCents', { type: 'SafeInt', description: 'TOPUP_MIN_CENTS.' }),
    maxCents: t.expose('maxCents', { type: 'SafeInt', description: 'TOPUP_MAX_CENTS.' }),
    presetsCents: t.field({
      type: ['SafeInt'],
      description: 'Amounts offered as buttons (TOPUP_PRESETS_CENTS), ascending.',
      resolve: (o) => o.presetsCents,
    }),
    currency: t.exposeString('currency', { description: "The user's billing currency." }),
  }),
});

const TopUpCheckoutType = builder.objectRef<StartedTopUp>('TopUpCheckout').implement({
  description: 'A Stripe Checkout Session to pay a top-up: send the browser to `url`.',
  fields: (t) => ({
    sessionId: t.exposeString('sessionId'),
    url: t.exposeString('url', { description: "Stripe's hosted payment page." }),
    amountCents: t.expose('amountCents', { type: 'SafeInt' }),
    currency: t.exposeString('currency'),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
  }),
});

const TopUpStatusEnum = builder.enumType('TopUpStatus', {
  values: {
    PENDING: { description: 'Not paid yet (the payment page is open, or a delayed method is processing).' },
    PAID: { description: 'Stripe says paid; the webhook has not credited the balance yet.' },
    CREDITED: { description: 'The payment is on the balance.' },
    EXPIRED: { description: 'The session ended unpaid.' },
  } as const,
});

const TopUpCheckoutStatusType = builder.objectRef<TopUpCheckoutState>('TopUpCheckoutStatus').implement({
  description: 'Where a top-up stands: read from Stripe, and from the ledger for CREDITED.',
  fields: (t) => ({
    sessionId: t.exposeString('sessionId'),
    status: t.field({ type: TopUpStatusEnum, resolve: (s) => s.status }),
    amountCents: t.expose('amountCents', { type: 'SafeInt', nullable: true }),
    currency: t.exposeString('currency', { nullable: true }),
    paymentId: t.exposeID('paymentId', {
      nullable: true,
      description: 'The recorded payment, once CREDITED.',
    }),
    creditedAt: t.expose('creditedAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.queryField('topUpOptions', (t) =>
  t.field({
    type: TopUpOptionsType,
    nullable: true,
    description:
      'User: the bounds, preset amounts and currency of a self-serve top-up; null when it is unavailable (no STRIPE_SECRET_KEY: operators record payments).',
    authScopes: { user: true },
    resolve: (_root, _args, ctx) => topUpOptions(ctx.em, ctx.topUp, ctx.user!.id),
  }),
);

builder.mutationField('startTopUp', (t) =>
  t.field({
    type: TopUpCheckoutType,
    description:
      "User: starts a Stripe Checkout payment of `amountCents` (whole cents of the billing currency, within TOPUP_MIN_CENTS … TOPUP_MAX_CENTS). Nothing is credited until Stripe's signed webhook says it is paid. The same `attemptKey` (8-100 of A-Z a-z 0-9 _ -) and amount answer the same session (a double submit); without one, every call makes a new session. An account whose email is not verified: EMAIL_NOT_VERIFIED.",
    authScopes: { user: true },
    args: {
      amountCents: t.arg({ type: 'SafeInt', required: true }),
      attemptKey: t.arg.string({ required: false }),
    },
    errors: {
      types: [
        TopUpAmountError,
        TopUpUnavailableError,
        PaymentProviderError,
        NotFoundError,
        EmailNotVerifiedError,
      ],
      union: { name: 'StartTopUpResult' },
      result: { name: 'StartTopUpSuccess' },
      dataField: { name: 'checkout' },
    },
    resolve: (_root, args, ctx) =>
      startTopUpCheckout(ctx.em, ctx.topUp, {
        userId: ctx.user!.id,
        amountCents: args.amountCents,
        attemptKey: args.attemptKey,
      }),
  }),
);

builder.queryField('topUpCheckout', (t) =>
  t.field({
    type: TopUpCheckoutStatusType,
    description:
      "User: one of the user's own top-up checkout sessions (another user's is NOT_FOUND): PENDING, PAID (the webhook has not landed yet), CREDITED or EXPIRED.",
    authScopes: { user: true },
    args: { sessionId: t.arg.string() },
    errors: {
      types: [NotFoundError, TopUpUnavailableError, PaymentProviderError],
      union: { name: 'TopUpCheckoutResult' },
      result: { name: 'TopUpCheckoutSuccess' },
      dataField: { name: 'checkout' },
    },
    resolve: (_root, args, ctx) =>
      topUpCheckoutStatus(ctx.em, ctx.topUp, { userId: ctx.user!.id, sessionId: args.sessionId }),
  }),
);
