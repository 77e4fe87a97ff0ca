import { parse as parseToml, TomlDate, TomlError } from 'smol-toml';
import { z } from 'zod';
import { parseSimpleUsageToml } from './fast-toml.ts';

/**
 * The usage batch format (docs/usage-format.md): one TOML file per node and hour at
 * `nodes/<node>/usage_<YYYY-MM-DD-HH>.otoml`, holding a `[[records]]` table array of usage
 * records. A file that is not TOML, or has no `records` array, fails its node (the file is
 * named in the error); a single record that is not valid is rejected with its reason and the
 * others are applied.
 */

export const USAGE_FILE_NAME = /^usage_(\d{4})-(\d{2})-(\d{2})-(\d{2})\.otoml$/;
export const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** `nodes/<node>/usage_<YYYY-MM-DD-HH>.otoml` → the node name, or null for any other path. */
export function usageFileNode(path: string): string | null {
  const parts = path.split('/');
  if (parts.length !== 3 || parts[0] !== 'nodes') return null;
  if (!NODE_NAME.test(parts[1]) || !USAGE_FILE_NAME.test(parts[2])) return null;
  return parts[1];
}

const tomlDateTime = (name: string) =>
  z.custom<TomlDate>((v) => v instanceof TomlDate && v.isDateTime() && !v.isLocal() && v.isValid(), {
    error: `${name} must be a TOML date-time with a time zone offset (e.g. 2026-11-23T10:00:00Z)`,
  });

/** One usage record as nodes write it (snake_case, as in the TOML). */
export const usageRecordSchema = z
  .object({
    idempotency_key: z.string().trim().min(1, 'must not be empty').max(512, 'must be at most 512 characters'),
    user_id: z.guid('must be a uuid'),
    allocation_id: z.guid('must be a uuid').optional(),
    node_name: z.string().min(1, 'must not be empty'),
    resource: z.string().min(1, 'must not be empty').max(200),
    quantity: z.number('must be a number').nonnegative('must be >= 0'),
    cost_cents: z
      .number('must be an integer')
      .int('must be an integer')
      .nonnegative('must be >= 0')
      .max(Number.MAX_SAFE_INTEGER),
    period_start: tomlDateTime('period_start'),
    period_end: tomlDateTime('period_end'),
  })
  .refine((r) => r.period_end.getTime() >= r.period_start.getTime(), {
    message: 'must not be before period_start',
    path: ['period_end'],
  });

/** The top level of a batch file. */
export const usageBatchSchema = z.object({
  node_name: z.string().min(1).optional(),
  period: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}-\d{2}$/, 'must look like YYYY-MM-DD-HH')
    .optional(),
  records: z.array(z.unknown(), 'a [[records]] table array is required'),
});

/** A record that can be debited. */
export interface UsageRecord {
  idempotencyKey: string;
  userId: string;
  allocationId: string | null;
  nodeName: string;
  resource: string;
  quantity: number;
  costCents: number;
  periodStart: Date;
  periodEnd: Date;
}

/** A record that cannot be applied, kept with its reason. */
export interface RejectedRecord {
  idempotencyKey: string | null;
  userId: string | null;
  reason: string;
  /** The record as written (dates as ISO strings). */
  record: Record<string, unknown>;
}

export interface ParsedUsageFile {
  records: UsageRecord[];
  rejected: RejectedRecord[];
}

/** A file the aggregator cannot read at all: its node fails for the tick. */
export class UsageFileError extends Error {
  // A plain field, not a parameter property: this module also runs in the parse worker, under
  // Node's own type stripping (erasable TypeScript only).
  readonly path: string;
  constructor(path: string, detail: string) {
    super(`${path}: ${detail}`);
    this.name = 'UsageFileError';
    this.path = path;
  }
}

function plain(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

function issues(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The common case checked by hand (the aggregator reads millions of records); anything it does
 * not accept goes through the zod schema, which is the definition and words the reason.
 */
function fastRecord(raw: Record<string, unknown>): UsageRecord | null {
  const key = raw.idempotency_key;
  const user = raw.user_id;
  const allocation = raw.allocation_id;
  const node = raw.node_name;
  const resource = raw.resource;
  const quantity = raw.quantity;
  const cost = raw.cost_cents;
  const start = raw.period_start;
  const end = raw.period_end;
  if (typeof key !== 'string' || key.length === 0 || key.length > 512 || key.trim() !== key) return null;
  if (typeof user !== 'string' || !GUID.test(user)) return null;
  if (allocation !== undefined && (typeof allocation !== 'string' || !GUID.test(allocation))) return null;
  if (typeof node !== 'string' || node.length === 0) return null;
  if (typeof resource !== 'string' || resource.length === 0 || resource.length > 200) return null;
  if (typeof quantity !== 'number' || !(quantity >= 0) || !Number.isFinite(quantity)) return null;
  if (typeof cost !== 'number' || !Number.isSafeInteger(cost) || cost < 0) return null;
  if (!(start instanceof TomlDate) || !start.isDateTime() || start.isLocal() || !start.isValid()) return null;
  if (!(end instanceof TomlDate) || !end.isDateTime() || end.isLocal() || !end.isValid()) return null;
  if (end.getTime() < start.getTime()) return null;
  return {
    idempotencyKey: key,
    userId: user.toLowerCase(),
    allocationId: typeof allocation === 'string' ? allocation.toLowerCase() : null,
    nodeName: node,
    resource,
    quantity,
    costCents: cost,
    periodStart: new Date(start.getTime()),
    periodEnd: new Date(end.getTime()),
  };
}

function validateRecord(raw: unknown): UsageRecord | { reason: string } {
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const fast = fastRecord(raw as Record<string, unknown>);
    if (fast) return fast;
  }
  const result = usageRecordSchema.safeParse(raw);
  if (!result.success) return { reason: issues(result.error) };
  const r = result.data;
  return {
    idempotencyKey: r.idempotency_key,
    userId: r.user_id.toLowerCase(),
    allocationId: r.allocation_id?.toLowerCase() ?? null,
    nodeName: r.node_name,
    resource: r.resource,
    quantity: r.quantity,
    costCents: r.cost_cents,
    periodStart: new Date(r.period_start.getTime()),
    periodEnd: new Date(r.period_end.getTime()),
  };
}

/**
 * Parses one batch file read from `nodes/<node>/…`. Throws UsageFileError when the file is
 * not a usage batch at all (TOML syntax, no `records` array, another node's name at the top);
 * returns the valid records and the rejected ones otherwise. A record for another node than
 * the file's directory is rejected.
 */
export function parseUsageFile(text: string, file: { node: string; path: string }): ParsedUsageFile {
  let doc: Record<string, unknown>;
  try {
    doc = parseSimpleUsageToml(text) ?? (parseToml(text) as Record<string, unknown>);
  } catch (err) {
    if (err instanceof TomlError) {
      throw new UsageFileError(
        file.path,
        `not valid TOML (line ${err.line}, column ${err.column}): ${err.message.split('\n')[0]}`,
      );
    }
    throw new UsageFileError(file.path, `not valid TOML: ${(err as Error).message}`);
  }
  const batch = usageBatchSchema.safeParse(doc);
  if (!batch.success) throw new UsageFileError(file.path, `not a usage batch: ${issues(batch.error)}`);
  if (batch.data.node_name !== undefined && batch.data.node_name !== file.node) {
    throw new UsageFileError(
      file.path,
      `node_name "${batch.data.node_name}" does not match the node directory "${file.node}"`,
    );
  }

  const records: UsageRecord[] = [];
  const rejected: RejectedRecord[] = [];
  for (const [index, raw] of batch.data.records.entries()) {
    const checked = validateRecord(raw);
    let reason: string | null = null;
    if ('reason' in checked) reason = `records[${index}]: ${checked.reason}`;
    else if (checked.nodeName !== file.node) {
      reason = `records[${index}]: node_name "${checked.nodeName}" does not match the node directory "${file.node}"`;
    }
    if (reason === null) {
      records.push(checked as UsageRecord);
      continue;
    }
    const obj = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : { value: raw };
    rejected.push({
      idempotencyKey: typeof obj.idempotency_key === 'string' ? obj.idempotency_key : null,
      userId: typeof obj.user_id === 'string' ? obj.user_id : null,
      reason,
      record: plain(obj) as Record<string, unknown>,
    });
  }
  return { records, rejected };
}

/** What `formatUsageBatch` writes: a record in camelCase (the allocation may be left out). */
export type UsageRecordInput = Omit<UsageRecord, 'allocationId'> & { allocationId?: string | null };

/** A TOML basic string (JSON's escapes are TOML's). */
const tomlString = (s: string) => JSON.stringify(s);
const tomlNumber = (n: number) =>
  Number.isInteger(n) ? String(n) : String(n).includes('e') ? n.toFixed(6) : String(n);
/** RFC 3339 without milliseconds when they are zero: 2026-11-23T10:00:00Z. */
const tomlDate = (d: Date) => d.toISOString().replace('.000Z', 'Z');

/** A batch file as nodes write it (the inverse of parseUsageFile), for tests, benchmarks and tools. */
export function formatUsageBatch(batch: {
  node: string;
  period?: string;
  records: UsageRecordInput[];
}): string {
  const lines: string[] = [`node_name = ${tomlString(batch.node)}`];
  if (batch.period) lines.push(`period = ${tomlString(batch.period)}`);
  for (const r of batch.records) {
    lines.push(
      '',
      '[[records]]',
      `idempotency_key = ${tomlString(r.idempotencyKey)}`,
      `user_id = ${tomlString(r.userId)}`,
      ...(r.allocationId ? [`allocation_id = ${tomlString(r.allocationId)}`] : []),
      `node_name = ${tomlString(r.nodeName)}`,
      `resource = ${tomlString(r.resource)}`,
      `quantity = ${tomlNumber(r.quantity)}`,
      `cost_cents = ${r.costCents}`,
      `period_start = ${tomlDate(r.periodStart)}`,
      `period_end = ${tomlDate(r.periodEnd)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
