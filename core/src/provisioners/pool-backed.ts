import type { EntityManager } from '@mikro-orm/postgresql';
import { allocateVm } from '../allocation/allocate-vm.ts';
import { releaseAllocation } from '../allocation/release-allocation.ts';
import type { AllocationView, ReleaseReason, VmAllocation } from '../entities/vm-allocation.entity.ts';
import { countPoolVms } from '../pool/pool-vms.ts';
import type { Provisioner, ProvisionerStatus, ReleaseOptions } from './provisioner.ts';

/**
 * Both provisioners hand out VMs from the `pool_vm` table, so both get the same allocation
 * guarantees; they differ in where the pool comes from and in the release hook.
 */
export abstract class PoolBackedProvisioner implements Provisioner {
  abstract readonly name: string;
  abstract readonly isDemo: boolean;

  /** Runs in the release transaction when a release happened; none by default. */
  protected onReleased?(tx: EntityManager, allocation: VmAllocation): Promise<void>;

  allocate(em: EntityManager, userId: string): Promise<AllocationView> {
    return allocateVm(em, { userId, provisioner: this.name });
  }

  release(em: EntityManager, allocationId: string, reason: ReleaseReason, options: ReleaseOptions = {}) {
    const hook = this.onReleased?.bind(this);
    return releaseAllocation(em, {
      allocationId,
      reason,
      userId: options.userId,
      expiredBefore: options.expiredBefore,
      precondition: options.precondition,
      onReleased: hook,
    });
  }

  async status(em: EntityManager): Promise<ProvisionerStatus> {
    const counts = await countPoolVms(em);
    return {
      name: this.name,
      isDemo: this.isDemo,
      poolSize: counts.total,
      free: counts.free,
      allocated: counts.allocated,
    };
  }
}
