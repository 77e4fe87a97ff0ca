import type { EntityManager } from '@mikro-orm/postgresql';
import type { PoolVmManifestEntry } from '../pool/manifest.ts';
import { seedPool } from '../pool/refresh-pool.ts';
import { PoolBackedProvisioner } from './pool-backed.ts';

export const DEMO_POOL_SIZE = 8;

/** Fabricated VMs for trying the product: ids `demo-vm-01`…, cockpit links on example.com. */
export function demoPoolEntries(size = DEMO_POOL_SIZE): PoolVmManifestEntry[] {
  return Array.from({ length: size }, (_, i) => {
    const n = String(i + 1).padStart(2, '0');
    return {
      id: `demo-vm-${n}`,
      name: `Demo VM ${n}`,
      host: `192.0.2.${i + 10}`,
      region: 'demo',
      status: 'AVAILABLE',
      // Every other demo VM has no cockpit, so both renderings can be tried.
      cockpitUrl: i % 2 === 0 ? `https://cockpit.example.com/demo-vm-${n}` : null,
    };
  });
}

/** Fabricated VMs in the same pool table; no deployer behind them, so no release hook. */
export class DemoProvisioner extends PoolBackedProvisioner {
  readonly name = 'demo';
  readonly isDemo = true;

  /** Adds the fabricated VMs that are missing; returns the ids added. */
  seed(em: EntityManager): Promise<string[]> {
    return seedPool(em, demoPoolEntries());
  }
}
