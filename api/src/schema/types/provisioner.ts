import { ProvisionerUnavailableError } from '../../errors.ts';
import type { Context } from '../../http/context.ts';
import { PoolProvisioner } from '../../provisioners/pool-provisioner.ts';
import type { Provisioner } from '../../provisioners/provisioner.ts';

/** The configured provisioner, or PROVISIONER_UNAVAILABLE (HTTP 503). */
export function requireProvisioner(ctx: Context): Provisioner {
  if (!ctx.provisioner) throw new ProvisionerUnavailableError();
  return ctx.provisioner;
}

/** Pool-only operations (refresh) need the pool provisioner. */
export function requirePoolProvisioner(ctx: Context): PoolProvisioner {
  if (!(ctx.provisioner instanceof PoolProvisioner)) {
    throw new ProvisionerUnavailableError(
      ctx.provisioner
        ? `pool refresh (the ${ctx.provisioner.name} provisioner has no declared pool)`
        : 'VM pool',
    );
  }
  return ctx.provisioner;
}
