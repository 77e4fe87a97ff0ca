import { POOL_VM_STATUSES, PoolVm } from '@hero/core/entities/pool-vm.entity';
import { ValidationError } from '@hero/core/errors';
import { parseManifest } from '@hero/core/pool/manifest';
import type { RefreshPoolResult } from '@hero/core/pool/refresh-pool';
import { builder } from '../builder.ts';
import { requirePoolProvisioner, requireProvisioner } from './provisioner.ts';

export const PoolVmStatusEnum = builder.enumType('PoolVmStatus', { values: POOL_VM_STATUSES });

export const PoolVmType = builder.objectType(PoolVm, {
  name: 'PoolVm',
  description: 'A VM of the operator-declared pool.',
  fields: (t) => ({
    id: t.exposeID('id', { description: "The operator's id for the VM." }),
    name: t.exposeString('name'),
    host: t.exposeString('host', { nullable: true }),
    region: t.exposeString('region', { nullable: true }),
    status: t.field({ type: PoolVmStatusEnum, resolve: (vm) => vm.status }),
    cockpitUrl: t.exposeString('cockpitUrl', { nullable: true }),
    allocated: t.boolean({
      description: 'Whether an ACTIVE allocation holds this VM.',
      resolve: (vm) => vm.activeAllocationId !== null && vm.activeAllocationId !== undefined,
    }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const PoolVmInput = builder.inputType('PoolVmInput', {
  fields: (t) => ({
    id: t.string(),
    name: t.string({ required: false }),
    host: t.string({ required: false }),
    region: t.string({ required: false }),
    status: t.field({ type: PoolVmStatusEnum, required: false }),
    cockpitUrl: t.string({ required: false }),
  }),
});

const RefreshPoolInput = builder.inputType('RefreshPoolInput', {
  isOneOf: true,
  description:
    'Exactly one of: a manifest (a JSON array of pool VMs, or `{ "pool": [...] }`), or a list of VMs.',
  fields: (t) => ({
    manifest: t.field({ type: 'JSON', required: false }),
    vms: t.field({ type: [PoolVmInput], required: false }),
  }),
});

const RefreshPoolPayload = builder.objectRef<RefreshPoolResult>('RefreshPoolPayload').implement({
  fields: (t) => ({
    prevPoolSize: t.exposeInt('prevPoolSize', {
      description: 'VMs in the pool (not RETIRED) before the refresh.',
    }),
    poolSize: t.exposeInt('poolSize', { description: 'VMs in the pool (not RETIRED) after the refresh.' }),
    added: t.exposeStringList('added'),
    updated: t.exposeStringList('updated'),
    retired: t.exposeStringList('retired'),
  }),
});

builder.queryField('pool', (t) =>
  t.field({
    type: [PoolVmType],
    description: 'Admin: every pool VM, RETIRED ones included, by id.',
    authScopes: { adminRead: true },
    args: { status: t.arg({ type: PoolVmStatusEnum, required: false }) },
    resolve: async (_root, args, ctx) => {
      requireProvisioner(ctx);
      return ctx.em.find(PoolVm, args.status ? { status: args.status } : {}, { orderBy: { id: 'asc' } });
    },
  }),
);

builder.mutationField('refreshPool', (t) =>
  t.field({
    type: RefreshPoolPayload,
    description:
      'Admin: reconcile the pool with a manifest in one transaction. Listed VMs are upserted, unlisted ones become RETIRED. The manifest is validated first: an invalid one is refused whole (ValidationError lists every problem) and the pool is unchanged. Field names may be camelCase or snake_case (`cockpit_url`), statuses in any case. PROVISIONER_UNAVAILABLE (503), saying what to set, when this api does not run the pool provisioner.',
    authScopes: { operate: true },
    args: { input: t.arg({ type: RefreshPoolInput }) },
    errors: {
      types: [ValidationError],
      union: { name: 'RefreshPoolResult' },
      result: { name: 'RefreshPoolSuccess' },
      dataField: { name: 'result' },
    },
    resolve: async (_root, { input }, ctx) => {
      // The manifest first: its problems are worth listing whatever the provisioner.
      const raw =
        input.manifest !== undefined && input.manifest !== null
          ? input.manifest
          : (input.vms ?? []).map((vm) =>
              Object.fromEntries(Object.entries(vm).filter(([, v]) => v !== null && v !== undefined)),
            );
      const entries = parseManifest(raw);
      const result = await requirePoolProvisioner(ctx).refreshPool(ctx.em, entries);
      ctx.log.info(
        {
          ...result,
          added: result.added.length,
          updated: result.updated.length,
          retired: result.retired.length,
        },
        'pool refreshed',
      );
      return result;
    },
  }),
);
