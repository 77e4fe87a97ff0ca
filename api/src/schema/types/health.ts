import type { ProvisionerStatus } from '@hero/core/provisioners/provisioner';
import { builder } from '../builder.ts';
import { requireProvisioner } from './provisioner.ts';

const ProvisionerStatusType = builder.objectRef<ProvisionerStatus>('ProvisionerStatus').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    isDemo: t.exposeBoolean('isDemo'),
    poolSize: t.exposeInt('poolSize'),
    free: t.exposeInt('free'),
    allocated: t.exposeInt('allocated'),
  }),
});

builder.queryField('provisioner', (t) =>
  t.field({
    type: ProvisionerStatusType,
    description: 'Admin: the active provisioner and pool occupancy.',
    authScopes: { adminRead: true },
    resolve: (_root, _args, ctx) => requireProvisioner(ctx).status(ctx.em),
  }),
);
