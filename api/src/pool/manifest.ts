import { z } from 'zod';
import { POOL_VM_STATUSES, type PoolVmStatus } from '../entities/pool-vm.entity.ts';
import { type Problem, ValidationError } from '../errors.ts';

export interface PoolVmManifestEntry {
  id: string;
  name: string;
  host: string | null;
  region: string | null;
  status: PoolVmStatus;
  cockpitUrl: string | null;
}

const httpUrl = z
  .string()
  .trim()
  .refine(
    (value) => {
      try {
        const url = new URL(value);
        return url.protocol === 'http:' || url.protocol === 'https:';
      } catch {
        return false;
      }
    },
    { message: 'must be an http:// or https:// URL' },
  );

export const poolVmEntrySchema = z.strictObject({
  id: z.string().trim().min(1, 'must not be empty').max(200),
  name: z.string().trim().min(1, 'must not be empty').max(500).optional(),
  host: z.string().trim().min(1).max(500).nullish(),
  ip: z.string().trim().min(1).max(500).nullish(),
  region: z.string().trim().min(1).max(200).nullish(),
  status: z
    .enum(POOL_VM_STATUSES, { error: `must be one of ${POOL_VM_STATUSES.join(', ')}` })
    .default('AVAILABLE'),
  cockpitUrl: httpUrl.nullish(),
});

/**
 * Parses a pool manifest: a JSON array of pool VMs, or `{ "pool": [...] }`. Every problem
 * (unknown field, bad status, non-http(s) cockpitUrl, duplicate id…) is collected; any problem
 * refuses the whole manifest.
 */
export function parseManifest(input: unknown): PoolVmManifestEntry[] {
  let list: unknown = input;
  if (typeof input === 'string') {
    try {
      list = JSON.parse(input);
    } catch (err) {
      throw new ValidationError(
        [{ path: '', message: `not valid JSON: ${(err as Error).message}` }],
        'Invalid pool manifest',
      );
    }
  }
  let prefix = '';
  if (list !== null && typeof list === 'object' && !Array.isArray(list)) {
    const keys = Object.keys(list);
    const extra = keys.filter((k) => k !== 'pool');
    if (!keys.includes('pool') || extra.length > 0) {
      throw new ValidationError(
        [
          {
            path: '',
            message: `expected an array of pool VMs or { "pool": [...] }${extra.length ? `; unknown field(s): ${extra.join(', ')}` : ''}`,
          },
        ],
        'Invalid pool manifest',
      );
    }
    list = (list as { pool: unknown }).pool;
    prefix = 'pool';
  }
  if (!Array.isArray(list)) {
    throw new ValidationError(
      [{ path: prefix, message: 'expected an array of pool VMs' }],
      'Invalid pool manifest',
    );
  }
  const problems: Problem[] = [];
  const entries: PoolVmManifestEntry[] = [];
  const seen = new Map<string, number>();
  list.forEach((raw, index) => {
    const at = `${prefix}[${index}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      problems.push({ path: at, message: 'must be an object such as { "id": "vm-1", "name": "…" }' });
      return;
    }
    const rawId = (raw as { id?: unknown }).id;
    const id = typeof rawId === 'string' ? rawId.trim() : undefined;
    if (id) {
      const first = seen.get(id);
      if (first !== undefined)
        problems.push({ path: `${at}.id`, message: `duplicate id "${id}" (first at ${prefix}[${first}])` });
      else seen.set(id, index);
    }
    const parsed = poolVmEntrySchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        if (issue.code === 'unrecognized_keys') {
          for (const key of issue.keys) problems.push({ path: `${at}.${key}`, message: 'unknown field' });
          continue;
        }
        const path = issue.path.length ? `${at}.${issue.path.join('.')}` : at;
        problems.push({ path, message: issue.message });
      }
      return;
    }
    const vm = parsed.data;
    if (vm.host && vm.ip && vm.host !== vm.ip) {
      problems.push({ path: `${at}.ip`, message: 'host and ip are the same field; give one of them' });
    }
    entries.push({
      id: vm.id,
      name: vm.name ?? vm.id,
      host: vm.host ?? vm.ip ?? null,
      region: vm.region ?? null,
      status: vm.status,
      cockpitUrl: vm.cockpitUrl ?? null,
    });
  });
  if (problems.length > 0) throw new ValidationError(problems, 'Invalid pool manifest');
  return entries;
}
