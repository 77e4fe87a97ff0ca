import {
  type AllocationExtension,
  extendAllocation,
  listAllocationExtensions,
} from '@hero/core/allocation/extend-allocation';
import type { AllocationView } from '@hero/core/entities/vm-allocation.entity';
import { AllocationNotActiveError, NotFoundError, ValidationError } from '@hero/core/errors';
import { builder } from '../builder.ts';
import { VmAllocationType } from './vm-allocation.ts';

export const AllocationExtensionType = builder
  .objectRef<AllocationExtension>('AllocationExtension')
  .implement({
    description: "An operator's change of one allocation's end (extendAllocation), with the reason.",
    fields: (t) => ({
      id: t.exposeID('id'),
      previousExpiresAt: t.expose('previousExpiresAt', { type: 'DateTime' }),
      expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
      reason: t.exposeString('reason'),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
    }),
  });

builder.objectField(VmAllocationType, 'extensions', (t) =>
  t.field({
    type: [AllocationExtensionType],
    description: "Admin: the operators' extensions of this allocation, oldest first.",
    authScopes: { adminRead: true },
    resolve: (a, _args, ctx) => listAllocationExtensions(ctx.em, a.id),
  }),
);

const ExtendAllocationPayload = builder
  .objectRef<{ allocation: AllocationView; extension: AllocationExtension }>('ExtendAllocationPayload')
  .implement({
    fields: (t) => ({
      allocation: t.field({ type: VmAllocationType, resolve: (p) => p.allocation }),
      extension: t.field({ type: AllocationExtensionType, resolve: (p) => p.extension }),
    }),
  });

builder.mutationField('extendAllocation', (t) =>
  t.field({
    type: ExtendAllocationPayload,
    description:
      "Admin: move one ACTIVE allocation's end later (at most 3660 days ahead), with a reason (1 to 500 characters) kept in its `extensions`. A later change of the user's plan period re-dates it with the plan's other VMs.",
    authScopes: { operate: true },
    args: {
      id: t.arg.id(),
      expiresAt: t.arg({ type: 'DateTime' }),
      reason: t.arg.string(),
    },
    errors: {
      types: [ValidationError, NotFoundError, AllocationNotActiveError],
      union: { name: 'ExtendAllocationResult' },
      result: { name: 'ExtendAllocationSuccess' },
      dataField: { name: 'result' },
    },
    resolve: (_root, args, ctx) =>
      extendAllocation(ctx.em, {
        allocationId: String(args.id),
        expiresAt: args.expiresAt,
        reason: args.reason,
      }),
  }),
);
