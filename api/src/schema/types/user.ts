import { INVITATION_TTL_DAYS, resendInvitation, sendInvitation } from '@hero/core/auth/invitations';
import { Billing } from '@hero/core/entities/billing.entity';
import { User } from '@hero/core/entities/user.entity';
import { VmAllocation } from '@hero/core/entities/vm-allocation.entity';
import { AccountDeletedError, NotFoundError, ValidationError } from '@hero/core/errors';
import { type CreateUserResult, createUser, normalizeEmail } from '@hero/core/users/create-user';
import { pageUsers, USER_ORDERS, USER_SEARCH_MAX_LENGTH } from '@hero/core/users/list-users';
import { setUserQuota } from '@hero/core/users/set-user-quota';
import { resolveOffsetConnection } from '@pothos/plugin-relay';
import { builder } from '../builder.ts';
import { AllocationStatusEnum, VmAllocationType } from './vm-allocation.ts';

const UserOrderEnum = builder.enumType('UserOrder', {
  values: USER_ORDERS,
  description: 'By creation time (then id), or by email.',
});

export const UserStatusEnum = builder.enumType('UserStatus', {
  values: {
    ACTIVE: { value: 'active' },
    SUSPENDED: {
      value: 'suspended',
      description:
        'No sign-in, sessions, API tokens or new VMs until `unsuspendUser`; money is still credited.',
    },
    DELETED: {
      value: 'deleted',
      description: 'Personal data erased; the row is kept as the tombstone of its ledger.',
    },
  } as const,
});

export const BillingType = builder.objectType(Billing, {
  name: 'Billing',
  fields: (t) => ({
    creditBalanceCents: t.expose('creditBalanceCents', {
      type: 'SafeInt',
      description: 'Prepaid credit in cents (64-bit in the database).',
    }),
    currency: t.exposeString('currency'),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

export const UserType = builder.objectType(User, {
  name: 'User',
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    displayName: t.exposeString('displayName'),
    forgeId: t.exposeString('forgeId', { nullable: true }),
    emailVerified: t.boolean({
      description:
        'Whether the email is verified. False: no payment and no VM (EMAIL_NOT_VERIFIED) until the emailed link is used (resendEmailVerification sends a new one).',
      resolve: (user) => user.emailVerifiedAt !== null,
    }),
    vmQuota: t.exposeInt('vmQuota', { description: 'How many ACTIVE allocations the user may hold.' }),
    vmQuotaPeriodEnd: t.expose('vmQuotaPeriodEnd', {
      type: 'DateTime',
      nullable: true,
      description:
        'End of the plan period: allocations expire then, and no VM can be allocated after it. Null: no plan (NO_ACTIVE_PLAN).',
    }),
    autoRenew: t.exposeBoolean('autoRenew', {
      description:
        'Opt-in: the last plan bought is renewed for one period from the balance before the period ends (see `setAutoRenew`).',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    status: t.expose('status', {
      type: UserStatusEnum,
      description: 'ACTIVE; SUSPENDED by an operator (`suspendUser`); DELETED (`deleteUser`: a tombstone).',
    }),
    suspendedAt: t.expose('suspendedAt', { type: 'DateTime', nullable: true }),
    suspendedReason: t.exposeString('suspendedReason', {
      nullable: true,
      description: "The operator's reason, while SUSPENDED.",
    }),
    deletedAt: t.expose('deletedAt', { type: 'DateTime', nullable: true }),
    billing: t.field({
      type: BillingType,
      resolve: (user, _args, ctx) => ctx.em.findOneOrFail(Billing, { user: user.id }),
    }),
    allocations: t.field({
      type: [VmAllocationType],
      description: "The user's allocations, newest first.",
      args: { status: t.arg({ type: AllocationStatusEnum, required: false }) },
      resolve: (user, args, ctx) =>
        ctx.em.find(
          VmAllocation,
          { user: user.id, ...(args.status ? { status: args.status } : {}) },
          { orderBy: { allocatedAt: 'desc', id: 'desc' }, populate: ['poolVm'] },
        ),
    }),
  }),
});

const CreateUserPayload = builder.objectRef<CreateUserResult>('CreateUserPayload').implement({
  fields: (t) => ({
    user: t.field({ type: UserType, resolve: (r) => r.user }),
    token: t.exposeString('token', {
      description: "The user's API bearer token. Shown once; only its hash is stored.",
    }),
    invitationUrl: t.string({
      description: `The single-use set-password link (WEB_PUBLIC_URL/reset?token=…&invite=1, ${INVITATION_TTL_DAYS} days) that was also emailed to the user. Shown once; only its hash is stored.`,
      resolve: (r) => r.invitation?.url ?? '',
    }),
  }),
});

const ResendInvitationPayload = builder
  .objectRef<{ userId: string; invitationUrl: string }>('ResendInvitationPayload')
  .implement({
    fields: (t) => ({
      user: t.field({ type: UserType, resolve: (r, _args, ctx) => ctx.em.findOneOrFail(User, r.userId) }),
      invitationUrl: t.exposeString('invitationUrl', {
        description:
          'The new set-password link, also emailed. Shown once; earlier invitation links stop working.',
      }),
    }),
  });

const CreateUserInput = builder.inputType('CreateUserInput', {
  fields: (t) => ({ email: t.string(), displayName: t.string() }),
});

builder.queryField('me', (t) =>
  t.field({
    type: UserType,
    description: 'The signed-in user (bearer token).',
    authScopes: { user: true },
    resolve: (_root, _args, ctx) => ctx.em.findOneOrFail(User, ctx.user!.id),
  }),
);

builder.queryField('user', (t) =>
  t.field({
    type: UserType,
    nullable: true,
    description: 'Admin: one user by id; null when there is none.',
    authScopes: { adminRead: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => {
      const id = String(args.id);
      // Not a UUID: no such user (rather than a database error on the cast).
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return null;
      return ctx.em.findOne(User, id);
    },
  }),
);

builder.queryField('users', (t) =>
  t.connection({
    type: UserType,
    description: 'Admin: users, newest first by default.',
    authScopes: { adminRead: true },
    args: {
      email: t.arg.string({ required: false, description: 'Exact email (case-insensitive).' }),
      search: t.arg.string({
        required: false,
        description: `A part of the email or the display name, case-insensitive (% and _ are literal); blank: no filter; longer than ${USER_SEARCH_MAX_LENGTH} characters: BAD_USER_INPUT.`,
      }),
      status: t.arg({ type: UserStatusEnum, required: false, description: 'Only the users of this status.' }),
      orderBy: t.arg({ type: UserOrderEnum, required: false, defaultValue: 'CREATED_DESC' }),
    },
    resolve: (_root, args, ctx) =>
      resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
        pageUsers(
          ctx.em,
          {
            email: args.email ? normalizeEmail(args.email) : undefined,
            search: args.search ?? undefined,
            status: args.status ?? undefined,
          },
          args.orderBy ?? 'CREATED_DESC',
          limit,
          offset,
        ),
      ),
  }),
);

builder.mutationField('createUser', (t) =>
  t.field({
    type: CreateUserPayload,
    description: `Admin: create a user with an empty balance; answers once an API token named 'created by operator' (listed in the user's \`apiTokens\`, revocable there) and the invitation link. The invitation (a single-use set-password link, ${INVITATION_TTL_DAYS} days) is emailed to the user after the commit.`,
    authScopes: { operate: true },
    args: { input: t.arg({ type: CreateUserInput }) },
    errors: {
      types: [ValidationError],
      union: { name: 'CreateUserResult' },
      result: { name: 'CreateUserSuccess' },
      dataField: { name: 'payload' },
    },
    resolve: async (_root, { input }, ctx) => {
      const created = await createUser(
        ctx.em,
        { ...input, currency: ctx.settings.defaultCurrency },
        { invite: { webUrl: ctx.settings.passwordReset.webUrl } },
      );
      // Not awaited: a slow SMTP server does not hold the answer (the operator has the link).
      if (created.invitation) void sendInvitation(created.invitation, { mailer: ctx.mailer, log: ctx.log });
      return created;
    },
  }),
);

builder.mutationField('resendInvitation', (t) =>
  t.field({
    type: ResendInvitationPayload,
    description: `Admin: email the user a new single-use set-password link (${INVITATION_TTL_DAYS} days) and answer it once; the user's earlier invitation links stop working.`,
    authScopes: { operate: true },
    args: { userId: t.arg.id() },
    errors: {
      types: [NotFoundError, AccountDeletedError],
      union: { name: 'ResendInvitationResult' },
      result: { name: 'ResendInvitationSuccess' },
      dataField: { name: 'payload' },
    },
    resolve: async (_root, args, ctx) => {
      const { invitation } = await resendInvitation(ctx.em, String(args.userId), {
        webUrl: ctx.settings.passwordReset.webUrl,
        mailer: ctx.mailer,
        log: ctx.log,
      });
      return { userId: invitation.userId, invitationUrl: invitation.url };
    },
  }),
);

builder.mutationField('setUserQuota', (t) =>
  t.field({
    type: UserType,
    description:
      "Admin: set a user's VM quota and plan period end. The user's ACTIVE allocations are re-dated to the period end and new ones expire then; null clears it (running allocations keep their end).",
    authScopes: { operate: true },
    args: {
      userId: t.arg.id(),
      vmQuota: t.arg.int(),
      periodEnd: t.arg({ type: 'DateTime', required: false }),
    },
    errors: {
      types: [ValidationError, NotFoundError, AccountDeletedError],
      union: { name: 'SetUserQuotaResult' },
      result: { name: 'SetUserQuotaSuccess' },
      dataField: { name: 'user' },
    },
    resolve: (_root, args, ctx) =>
      setUserQuota(ctx.em, {
        userId: String(args.userId),
        vmQuota: args.vmQuota,
        periodEnd: args.periodEnd ?? null,
      }),
  }),
);

builder.objectField(VmAllocationType, 'user', (t) =>
  t.field({
    type: UserType,
    description: 'Whose allocation this is (batched: a page of allocations loads its users in one query).',
    resolve: async (a, _args, ctx) => {
      const user = await ctx.loaders.user.load(a.user.id);
      if (!user) throw new NotFoundError('User', a.user.id);
      return user;
    },
  }),
);
