import { ProvisionerUnavailableError } from '@hero/core/errors';
import { PoolProvisioner } from '@hero/core/provisioners/pool-provisioner';
import type { Provisioner } from '@hero/core/provisioners/provisioner';
import type { Context } from '../../http/context.ts';

/** The configured provisioner, or PROVISIONER_UNAVAILABLE (HTTP 503). */
export function requireProvisioner(ctx: Context): Provisioner {
  if (!ctx.provisioner) throw new ProvisionerUnavailableError();
  return ctx.provisioner;
}

/** Pool-only operations (refresh) need the pool provisioner; the error says how to get it. */
export function requirePoolProvisioner(ctx: Context): PoolProvisioner {
  if (ctx.provisioner instanceof PoolProvisioner) return ctx.provisioner;
  const howToGetIt =
    "set VM_POOL_FILE to a pool manifest file (or VM_POOL_JSON='[]' to start from an empty pool managed through refreshPool) and restart the api";
  throw new ProvisionerUnavailableError(
    ctx.provisioner
      ? `The pool cannot be refreshed: this api runs the ${ctx.provisioner.name} provisioner${ctx.provisioner.isDemo ? ' (PROVISIONER_DEMO=1), whose VMs are fabricated' : ''}, which has no declared pool. To manage the pool, ${howToGetIt}; the pool provisioner then takes its place.`
      : `The pool cannot be refreshed: no provisioner is configured. To manage the pool, ${howToGetIt}.`,
  );
}
