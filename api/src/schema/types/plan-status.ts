import { type PlanStatus, planStatus } from '@hero/core/billing/auto-renew';
import { NoPlanToRenewError, NotFoundError } from '@hero/core/errors';
import { setAutoRenew } from '@hero/core/users/set-auto-renew';
import { builder } from '../builder.ts';
import { PlanQuoteType } from './plan.ts';
import { UserType } from './user.ts';

const PlanStatusType = builder.objectRef<PlanStatus>('PlanStatus').implement({
  description:
    "A user's plan: the last plan bought, the period end, auto-renew and what renewing costs (one period at today's price).",
  fields: (t) => ({
    planCode: t.exposeString('planCode', {
      nullable: true,
      description: 'The last plan bought (what auto-renew renews); null: none bought yet.',
    }),
    planName: t.exposeString('planName', { nullable: true }),
    periodEnd: t.expose('periodEnd', {
      type: 'DateTime',
      nullable: true,
      description: 'End of the plan period (as `User.vmQuotaPeriodEnd`).',
    }),
    autoRenew: t.exposeBoolean('autoRenew'),
    renewal: t.field({
      type: PlanQuoteType,
      nullable: true,
      description:
        'One period of that plan at the current price, with its currency: what a renewal debits. Null: no plan bought, or it is no longer on offer.',
      resolve: (s) => s.renewal,
    }),
  }),
});

builder.objectField(UserType, 'planStatus', (t) =>
  t.field({
    type: PlanStatusType,
    description: 'The plan, its period end, auto-renew and the renewal price.',
    resolve: (user, _args, ctx) => planStatus(ctx.em, ctx.settings.plans, user.id),
  }),
);

builder.mutationField('setAutoRenew', (t) =>
  t.field({
    type: UserType,
    description:
      'User: turn auto-renew on or off. On: before the period ends (the EXPIRY_WARNING_HOURS window) the auto-release worker renews the last plan bought for one period when the balance covers it (`plan.renewed`); otherwise `plan.expiring` is sent and the VMs are released at the period end. NO_PLAN_TO_RENEW when turning it on without a plan bought.',
    authScopes: { user: true },
    args: { enabled: t.arg.boolean() },
    errors: {
      types: [NoPlanToRenewError, NotFoundError],
      union: { name: 'SetAutoRenewResult' },
      result: { name: 'SetAutoRenewSuccess' },
      dataField: { name: 'user' },
    },
    resolve: (_root, args, ctx) => setAutoRenew(ctx.em, { userId: ctx.user!.id, enabled: args.enabled }),
  }),
);
