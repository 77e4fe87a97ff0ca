import { z } from 'zod';
import { POOL_VM_STATUSES, type PoolVmStatus } from '../entities/pool-vm.entity.ts';
import { type Problem, ValidationError } from '../errors.ts';
import { textInputProblems } from '../lib/text-input.ts';

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
  // The deployer's feed writes statuses as `Available`; any case is the same status.
  status: z
    .preprocess(
      (value) => (typeof value === 'string' ? value.trim().toUpperCase() : value),
      z.enum(POOL_VM_STATUSES, { error: `must be one of ${POOL_VM_STATUSES.join(', ')} (any case)` }),
    )
    .default('AVAILABLE'),
  cockpitUrl: httpUrl.nullish(),
});

/** `cockpit_url` → `cockpitUrl`: the original system's feed names its fields in snake_case. */
function camelCase(key: string): string {
  return key.replace(/_+([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * An entry's fields under their camelCase names; a field given in both spellings is a problem.
 * `names` maps each camelCase name back to the spelling the manifest used, for messages.
 */
function normaliseKeys(
  raw: Record<string, unknown>,
  at: string,
  problems: Problem[],
): { entry: Record<string, unknown>; names: Map<string, string> } {
  const entry: Record<string, unknown> = {};
  const names = new Map<string, string>();
  for (const [key, value] of Object.entries(raw)) {
    const name = camelCase(key);
    const earlier = names.get(name);
    if (earlier !== undefined) {
      problems.push({
        path: `${at}.${key}`,
        message: `${earlier} and ${key} are the same field; give one of them`,
      });
      continue;
    }
    names.set(name, key);
    entry[name] = value;
  }
  return { entry, names };
}

/**
 * Parses a pool manifest: a JSON array of pool VMs, or `{ "pool": [...] }`. Field names may be
 * camelCase or snake_case (`cockpit_url`) and statuses in any case (`Available`), as the
 * original system's feed writes them. Every problem (unknown field, bad status, non-http(s)
 * cockpitUrl, duplicate id…) is collected; any problem refuses the whole manifest.
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
  // JSON text (a string manifest, VM_POOL_JSON, a file) has not been through the API's input check.
  const textProblems = textInputProblems(list, prefix);
  if (textProblems.length > 0) throw new ValidationError(textProblems, 'Invalid pool manifest');
  const problems: Problem[] = [];
  const entries: PoolVmManifestEntry[] = [];
  const seen = new Map<string, number>();
  list.forEach((raw, index) => {
    const at = `${prefix}[${index}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      problems.push({ path: at, message: 'must be an object such as { "id": "vm-1", "name": "…" }' });
      return;
    }
    const { entry, names } = normaliseKeys(raw as Record<string, unknown>, at, problems);
    const rawId = entry.id;
    const id = typeof rawId === 'string' ? rawId.trim() : undefined;
    if (id) {
      const first = seen.get(id);
      if (first !== undefined)
        problems.push({ path: `${at}.id`, message: `duplicate id "${id}" (first at ${prefix}[${first}])` });
      else seen.set(id, index);
    }
    const parsed = poolVmEntrySchema.safeParse(entry);
    if (!parsed.success) {
      const spelled = (key: PropertyKey) => names.get(String(key)) ?? String(key);
      for (const issue of parsed.error.issues) {
        if (issue.code === 'unrecognized_keys') {
          for (const key of issue.keys)
            problems.push({ path: `${at}.${spelled(key)}`, message: 'unknown field' });
          continue;
        }
        const [field, ...rest] = issue.path;
        const path = field === undefined ? at : [`${at}.${spelled(field)}`, ...rest].join('.');
        problems.push({ path, message: issue.message });
      }
      return;
    }
    const vm = parsed.data;
    if (vm.host && vm.ip && vm.host !== vm.ip) {
      problems.push({
        path: `${at}.${names.get('ip')}`,
        message: 'host and ip are the same field; give one of them',
      });
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
