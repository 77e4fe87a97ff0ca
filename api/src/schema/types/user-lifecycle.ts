import { User } from '@hero/core/entities/user.entity';
import { AccountDeletedError, BalanceNotZeroError, NotFoundError, ValidationError } from '@hero/core/errors';
import { provisionerNamed } from '@hero/core/provisioners/registry';
import {
  type DeleteUserResult,
  deleteUser,
  type SuspendUserResult,
  suspendUser,
  unsuspendUser,
} from '@hero/core/users/account-lifecycle';
import { builder } from '../builder.ts';
import { UserType } from './user.ts';

const lifecycleDeps = { provisionerFor: provisionerNamed };

const SuspendUserPayload = builder.objectRef<SuspendUserResult>('SuspendUserPayload').implement({
  fields: (t) => ({
    user: t.field({ type: UserType, resolve: (r) => r.user }),
    sessionsEnded: t.exposeInt('sessionsEnded', { description: 'Live sessions this suspension ended.' }),
    allocationsReleased: t.exposeInt('allocationsReleased', {
      description: 'ACTIVE allocations released (reason SUSPENDED); 0 unless `releaseVms`.',
    }),
  }),
});

const DeleteUserPayload = builder.objectRef<DeleteUserResult>('DeleteUserPayload').implement({
  fields: (t) => ({
    user: t.field({
      type: UserType,
      description: 'The tombstone (status DELETED).',
      resolve: (r, _args, ctx) => ctx.em.findOneOrFail(User, r.userId, { refresh: true }),
    }),
    deletedAt: t.expose('deletedAt', { type: 'DateTime' }),
    allocationsReleased: t.exposeInt('allocationsReleased', {
      description: 'ACTIVE allocations released (reason DELETED).',
    }),
    sessionsRemoved: t.exposeInt('sessionsRemoved'),
    apiTokensRemoved: t.exposeInt('apiTokensRemoved'),
    balanceCents: t.expose('balanceCents', {
      type: 'SafeInt',
      description: "The balance the deleted account's ledger keeps (non-zero only with `force`, or debt).",
    }),
    currency: t.exposeString('currency'),
  }),
});

builder.mutationField('suspendUser', (t) =>
  t.field({
    type: SuspendUserPayload,
    description:
      "Admin: suspend a user. Sign-in answers ACCOUNT_SUSPENDED, every live session ends, the user's sessions and API tokens answer 401 and allocateVm is refused until `unsuspendUser`; with `releaseVms` the ACTIVE allocations are released now (reason SUSPENDED). Payments and top-ups are still credited; auto-renew does not renew while suspended. Writes a `user.suspended` event. Suspending again replaces the reason. A blank reason: BAD_USER_INPUT; a deleted user: ACCOUNT_DELETED.",
    authScopes: { operate: true },
    args: {
      userId: t.arg.id(),
      reason: t.arg.string({ description: 'Why (at most 500 characters); kept and sent in the event.' }),
      releaseVms: t.arg.boolean({ required: false, defaultValue: false }),
    },
    errors: {
      types: [ValidationError, NotFoundError, AccountDeletedError],
      union: { name: 'SuspendUserResult' },
      result: { name: 'SuspendUserSuccess' },
      dataField: { name: 'payload' },
    },
    resolve: (_root, args, ctx) =>
      suspendUser(
        ctx.em,
        { userId: String(args.userId), reason: args.reason, releaseVms: args.releaseVms ?? false },
        lifecycleDeps,
      ),
  }),
);

builder.mutationField('unsuspendUser', (t) =>
  t.field({
    type: UserType,
    description:
      'Admin: lift a suspension: sign-in, the API tokens and allocation work again (ended sessions and released VMs are not given back). A user who is not suspended is answered unchanged; a deleted one: ACCOUNT_DELETED.',
    authScopes: { operate: true },
    args: { userId: t.arg.id() },
    errors: {
      types: [NotFoundError, AccountDeletedError],
      union: { name: 'UnsuspendUserResult' },
      result: { name: 'UnsuspendUserSuccess' },
      dataField: { name: 'user' },
    },
    resolve: (_root, args, ctx) => unsuspendUser(ctx.em, String(args.userId)),
  }),
);

builder.mutationField('deleteUser', (t) =>
  t.field({
    type: DeleteUserPayload,
    description:
      "Admin: delete a user. Personal data is erased (the email becomes `deleted:<id>` and is free for a new sign-up; name, password, forge id cleared), sessions, API tokens and reset/invitation links are removed, ACTIVE allocations released (reason DELETED). The ledger, payments, plan purchases and consumed usage are kept under the same id, now a tombstone (status DELETED) that nothing changes again. Writes a `user.deleted` event without personal data. `confirmEmail` must be the user's email (BAD_USER_INPUT otherwise); a balance above zero needs `force` (BALANCE_NOT_ZERO otherwise); deleted already: ACCOUNT_DELETED.",
    authScopes: { operate: true },
    args: {
      userId: t.arg.id(),
      confirmEmail: t.arg.string({ description: "The user's current email, typed again." }),
      force: t.arg.boolean({
        required: false,
        defaultValue: false,
        description:
          "Delete although the balance is above zero: the credit stays on the deleted account's ledger.",
      }),
    },
    errors: {
      types: [ValidationError, NotFoundError, AccountDeletedError, BalanceNotZeroError],
      union: { name: 'DeleteUserResult' },
      result: { name: 'DeleteUserSuccess' },
      dataField: { name: 'payload' },
    },
    resolve: (_root, args, ctx) =>
      deleteUser(
        ctx.em,
        { userId: String(args.userId), confirmEmail: args.confirmEmail, force: args.force ?? false },
        lifecycleDeps,
      ),
  }),
);
