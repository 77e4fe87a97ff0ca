import type { EntityManager } from '@mikro-orm/postgresql';
import type { ReleaseAllocationResult } from '../allocation/release-allocation.ts';
import type { AllocationView, ReleaseReason } from '../entities/vm-allocation.entity.ts';

export interface ProvisionerStatus {
  name: string;
  isDemo: boolean;
  /** VMs in the pool that are not RETIRED. */
  poolSize: number;
  free: number;
  allocated: number;
}

export interface ReleaseOptions {
  /** Restrict the release to this user's allocation. */
  userId?: string;
  /** Release only if the allocation expired before this instant (auto-release). */
  expiredBefore?: Date;
  /** Release only if this holds, checked first in the release transaction (the credit watch). */
  precondition?: (tx: EntityManager) => Promise<boolean>;
}

/** What hands out and takes back VMs. Pool-only operations live on PoolProvisioner. */
export interface Provisioner {
  readonly name: string;
  readonly isDemo: boolean;
  allocate(em: EntityManager, userId: string): Promise<AllocationView>;
  release(
    em: EntityManager,
    allocationId: string,
    reason: ReleaseReason,
    options?: ReleaseOptions,
  ): Promise<ReleaseAllocationResult>;
  status(em: EntityManager): Promise<ProvisionerStatus>;
}
