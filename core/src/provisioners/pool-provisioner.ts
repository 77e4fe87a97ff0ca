import type { EntityManager } from '@mikro-orm/postgresql';
import type { VmAllocation } from '../entities/vm-allocation.entity.ts';
import { enqueueVmRelease } from '../outbox/enqueue.ts';
import type { PoolVmManifestEntry } from '../pool/manifest.ts';
import { type RefreshPoolResult, refreshPool } from '../pool/refresh-pool.ts';
import { PoolBackedProvisioner } from './pool-backed.ts';

/** Allocates from the operator's declared pool; a release reaches the deployer through the outbox. */
export class PoolProvisioner extends PoolBackedProvisioner {
  readonly name = 'pool';
  readonly isDemo = false;

  /** The release hook: writes the `vm.release` outbox row in the release transaction. */
  protected override onReleased(tx: EntityManager, allocation: VmAllocation): Promise<void> {
    return enqueueVmRelease(tx, allocation);
  }

  refreshPool(em: EntityManager, entries: PoolVmManifestEntry[]): Promise<RefreshPoolResult> {
    return refreshPool(em, entries);
  }
}
