import { readFileSync } from 'node:fs';
import { ValidationError } from '../errors.ts';
import { ConfigError } from '../lib/env.ts';
import { type PoolVmManifestEntry, parseManifest } from '../pool/manifest.ts';
import { DemoProvisioner } from './demo-provisioner.ts';
import { PoolProvisioner } from './pool-provisioner.ts';
import type { Provisioner } from './provisioner.ts';

export interface ProvisionerSetup {
  /** The provisioner that allocates, or null: pool and allocation operations answer 503. */
  provisioner: Provisioner | null;
  /**
   * The boot manifest to reconcile, when the pool comes from a non-empty VM_POOL_JSON /
   * VM_POOL_FILE. `[]` gives null: the pool is managed through refreshPool, and a restart must
   * not retire it.
   */
  bootManifest: PoolVmManifestEntry[] | null;
}

/** The api's pool settings (its configuration's variables of the same names). */
interface PoolSettings {
  VM_POOL_JSON?: string;
  VM_POOL_FILE?: string;
  PROVISIONER_DEMO: boolean;
}

/**
 * The pool provisioner when a pool is configured (VM_POOL_JSON or VM_POOL_FILE; `[]` selects it
 * with no boot manifest: the pool is managed through refreshPool), else the demo provisioner with PROVISIONER_DEMO=1,
 * else none. An invalid boot manifest is a configuration error listing every problem.
 */
export function setupProvisioner(config: PoolSettings): ProvisionerSetup {
  const source =
    config.VM_POOL_JSON !== undefined
      ? 'VM_POOL_JSON'
      : config.VM_POOL_FILE !== undefined
        ? 'VM_POOL_FILE'
        : null;
  if (source) {
    let text: string;
    if (source === 'VM_POOL_FILE') {
      try {
        text = readFileSync(config.VM_POOL_FILE!, 'utf8');
      } catch (err) {
        throw new ConfigError([
          `VM_POOL_FILE: cannot read ${config.VM_POOL_FILE}: ${(err as NodeJS.ErrnoException).code ?? err}`,
        ]);
      }
    } else {
      text = config.VM_POOL_JSON!;
    }
    try {
      const manifest = parseManifest(text);
      return {
        provisioner: new PoolProvisioner(),
        bootManifest: manifest.length > 0 ? manifest : null,
      };
    } catch (err) {
      if (err instanceof ValidationError) {
        throw new ConfigError(
          err.problems.map((p) => `${source}: ${p.path ? `${p.path}: ` : ''}${p.message}`),
        );
      }
      throw err;
    }
  }
  if (config.PROVISIONER_DEMO) return { provisioner: new DemoProvisioner(), bootManifest: null };
  return { provisioner: null, bootManifest: null };
}

/**
 * The provisioner an allocation was made by (its `provisioner` column), to take it back the
 * same way: a `pool` allocation's release goes to the deployer through the outbox even when
 * the process at hand runs another provisioner, or none. Unknown names answer null.
 */
export function provisionerNamed(name: string): Provisioner | null {
  if (name === 'pool') return new PoolProvisioner();
  if (name === 'demo') return new DemoProvisioner();
  return null;
}
