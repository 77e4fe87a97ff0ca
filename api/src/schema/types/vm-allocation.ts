import { isExpiringSoon } from '@hero/core/allocation/expiry';
import { ALLOCATION_ORDERS, pageAllocations } from '@hero/core/allocation/list-allocations';
import { PoolVm } from '@hero/core/entities/pool-vm.entity';
import {
  ALLOCATION_STATUSES,
  type AllocationView,
  RELEASE_REASONS,
} from '@hero/core/entities/vm-allocation.entity';
import {
  AccountDeletedError,
  AccountSuspendedError,
  BalanceNegativeError,
  EmailNotVerifiedError,
  NoActivePlanError,
  NotFoundError,
  PoolExhaustedError,
  QuotaExceededError,
} from '@hero/core/errors';
import { isUuid } from '@hero/core/lib/ids';
import { resolveOffsetConnection } from '@pothos/plugin-relay';
import { builder } from '../builder.ts';
import { PoolVmType } from './pool-vm.ts';
import { requireProvisioner } from './provisioner.ts';

export const AllocationStatusEnum = builder.enumType('AllocationStatus', { values: ALLOCATION_STATUSES });
export const ReleaseReasonEnum = builder.enumType('ReleaseReason', { values: RELEASE_REASONS });
const AllocationOrderEnum = builder.enumType('AllocationOrder', {
  values: ALLOCATION_ORDERS,
  description: 'By allocatedAt or expiresAt, then by id.',
});

export const VmAllocationType = builder.objectRef<AllocationView>('VmAllocation').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    userId: t.id({ resolve: (a) => a.user.id }),
    poolVm: t.field({
      type: PoolVmType,
      resolve: (a, _args, ctx) => ctx.em.findOneOrFail(PoolVm, a.poolVm.id),
    }),
    provisioner: t.exposeString('provisioner'),
    status: t.field({ type: AllocationStatusEnum, resolve: (a) => a.status }),
    allocatedAt: t.expose('allocatedAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    releasedAt: t.expose('releasedAt', { type: 'DateTime', nullable: true }),
    releaseReason: t.field({
      type: ReleaseReasonEnum,
      nullable: true,
      resolve: (a) => a.releaseReason ?? null,
    }),
    expiringSoon: t.boolean({
      description:
        'ACTIVE and ending within EXPIRY_WARNING_HOURS (default 72): the window in which one allocation.expiring warning is sent.',
      resolve: (a, _args, ctx) => isExpiringSoon(a, ctx.settings.expiryWarningHours),
    }),
    cockpitUrl: t.exposeString('cockpitUrl', {
      nullable: true,
      description: "The pool VM's cockpit link, as it was when the VM was allocated.",
    }),
  }),
});

builder.queryField('allocations', (t) =>
  t.connection({
    type: VmAllocationType,
    description: 'Admin: allocations, newest first by default, filterable by status and user.',
    authScopes: { adminRead: true },
    args: {
      status: t.arg({ type: AllocationStatusEnum, required: false }),
      userId: t.arg.id({ required: false }),
      orderBy: t.arg({ type: AllocationOrderEnum, required: false, defaultValue: 'ALLOCATED_DESC' }),
    },
    resolve: (_root, args, ctx) => {
      const userId = args.userId ? String(args.userId) : undefined;
      if (userId && !isUuid(userId)) return resolveOffsetConnection({ args }, () => []);
      return resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
        pageAllocations(
          ctx.em,
          { status: args.status ?? undefined, userId },
          limit,
          offset,
          args.orderBy ?? 'ALLOCATED_DESC',
        ),
      );
    },
  }),
);

builder.mutationField('allocateVm', (t) =>
  t.field({
    type: VmAllocationType,
    description:
      "User: take one free VM from the pool; it expires at the end of the user's plan period. Needs an active plan period (NO_ACTIVE_PLAN otherwise), a balance not below zero (BALANCE_NEGATIVE), room in the quota (QUOTA_EXCEEDED) and a verified email (EMAIL_NOT_VERIFIED).",
    authScopes: { user: true },
    errors: {
      types: [
        PoolExhaustedError,
        QuotaExceededError,
        NoActivePlanError,
        BalanceNegativeError,
        AccountSuspendedError,
        AccountDeletedError,
        EmailNotVerifiedError,
      ],
      union: { name: 'AllocateVmResult' },
      result: { name: 'AllocateVmSuccess' },
      dataField: { name: 'allocation' },
    },
    // The allocation runs plain statements on the pool (allocate-vm.ts): no fork needed.
    resolve: (_root, _args, ctx) => requireProvisioner(ctx).allocate(ctx.rootEm, ctx.user!.id),
  }),
);

builder.mutationField('releaseMyAllocation', (t) =>
  t.field({
    type: VmAllocationType,
    description: "User: release one of the user's own allocations (another user's reads as NOT_FOUND).",
    authScopes: { user: true },
    args: { id: t.arg.id() },
    errors: {
      types: [NotFoundError],
      union: { name: 'ReleaseMyAllocationResult' },
      result: { name: 'ReleaseMyAllocationSuccess' },
      dataField: { name: 'allocation' },
    },
    resolve: async (_root, args, ctx) => {
      const { allocation } = await requireProvisioner(ctx).release(ctx.em, String(args.id), 'USER', {
        userId: ctx.user!.id,
      });
      return allocation;
    },
  }),
);

builder.mutationField('releaseAllocation', (t) =>
  t.field({
    type: VmAllocationType,
    description: 'Admin: release any allocation. Releasing a released allocation changes nothing.',
    authScopes: { operate: true },
    args: {
      id: t.arg.id(),
      reason: t.arg({ type: ReleaseReasonEnum, required: false, defaultValue: 'ADMIN' }),
    },
    errors: {
      types: [NotFoundError],
      union: { name: 'ReleaseAllocationResult' },
      result: { name: 'ReleaseAllocationSuccess' },
      dataField: { name: 'allocation' },
    },
    resolve: async (_root, args, ctx) => {
      const { allocation } = await requireProvisioner(ctx).release(
        ctx.em,
        String(args.id),
        args.reason ?? 'ADMIN',
      );
      return allocation;
    },
  }),
);
