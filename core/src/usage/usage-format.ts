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

/** A path under `nodes/` that is not read as usage, and why (reported, never debited). */
export interface IgnoredFile {
  path: string;
  reason: string;
}

export const IGNORED_NODE_DIRECTORY =
  "not a node directory name (letters, digits, '.', '_', '-', starting with a letter or digit, at most 128 characters): nothing in it is read";
export const IGNORED_OUTSIDE_NODE = 'not inside a node directory (usage files go in nodes/<node>/)';
export const IGNORED_SUBDIRECTORY = 'in a sub-directory (usage files sit directly in nodes/<node>/)';
export const IGNORED_FILE_NAME = 'not named usage_<YYYY-MM-DD-HH>.otoml';

/**
 * Why a file listed under `nodes/<node>/` is not a usage file of that node, or null when it is.
 * (A node directory whose name breaks NODE_NAME is reported whole, IGNORED_NODE_DIRECTORY.)
 */
export function ignoredReason(path: string, node: string): string | null {
  const prefix = `nodes/${node}/`;
  if (!path.startsWith(prefix)) return IGNORED_OUTSIDE_NODE;
  const rest = path.slice(prefix.length);
  if (rest.includes('/')) return IGNORED_SUBDIRECTORY;
  return USAGE_FILE_NAME.test(rest) ? null : IGNORED_FILE_NAME;
}

/**
 * Bounds of one record (docs/usage-format.md). 10^11 cents is a billion in the billing currency
 * for one record of one hour: far above any real usage, far below where sums stop being exact
 * (2^53 in JavaScript, 2^63 in PostgreSQL's bigint) even over a whole batch (see aggregate-usage.ts).
 */
export const MAX_COST_CENTS = 100_000_000_000;
/**
 * 10^15 (a petabyte of egress in one hour, 31 million core-years of CPU): an integer quantity up
 * to it is stored exactly in consumed_record's double precision column (below 2^53).
 */
export const MAX_QUANTITY = 1e15;
export const MAX_KEY_LENGTH = 512;
export const MAX_RESOURCE_LENGTH = 200;

const NUL_MESSAGE = 'must not contain a NUL character (U+0000)';
const SURROGATE_MESSAGE = 'must not contain an unpaired surrogate (not valid Unicode)';

/** PostgreSQL text and jsonb hold neither NUL nor half of a UTF-16 surrogate pair. */
function isStorable(s: string): boolean {
  return !s.includes('\0') && s.isWellFormed();
}

/** NUL and unpaired surrogates, each replaced by its `\uXXXX` escape in stored copies. */
const UNSTORABLE = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * `s` as PostgreSQL can store it (NUL and unpaired surrogates written as `\uXXXX`), cut to
 * `max` characters with the number cut said: for error messages and copies of bad input, which
 * must never be what makes a write fail.
 */
export function storableText(s: string, max = 1000): string {
  const cut = s.length > max ? s.slice(0, max) : s;
  const clean = isStorable(cut)
    ? cut
    : cut.replace(UNSTORABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return s.length > max ? `${clean}…[${s.length - max} more characters]` : clean;
}

/** A value of the input quoted in a reason: storable and short. */
const quoted = (s: string) => JSON.stringify(storableText(s, 140));

const tomlDateTime = (name: string) =>
  z.custom<TomlDate>((v) => v instanceof TomlDate && v.isDateTime() && !v.isLocal() && v.isValid(), {
    error: `${name} must be a TOML date-time with a time zone offset (e.g. 2026-11-23T10:00:00Z)`,
  });

/** A text field that PostgreSQL can store (see isStorable). */
const storable = (schema: z.ZodString) =>
  schema.refine((s) => !s.includes('\0'), NUL_MESSAGE).refine((s) => s.isWellFormed(), SURROGATE_MESSAGE);

/**
 * An integer beyond 2^53 comes from smol-toml as a bigint: it is out of every bound here, and is
 * refused with the bound's own reason.
 */
const outOfRange = (above: number) => (v: unknown) => (typeof v === 'bigint' ? (v < 0n ? -1 : above + 1) : v);

/** One usage record as nodes write it (snake_case, as in the TOML). */
export const usageRecordSchema = z
  .object({
    idempotency_key: storable(
      z
        .string('must be a string')
        .min(1, 'must not be empty')
        .max(MAX_KEY_LENGTH, `must be at most ${MAX_KEY_LENGTH} characters`),
    ).refine((s) => s.trim() === s, 'must not begin or end with whitespace'),
    user_id: z.guid('must be a uuid'),
    allocation_id: z.guid('must be a uuid').optional(),
    node_name: storable(z.string('must be a string').min(1, 'must not be empty')),
    resource: storable(
      z
        .string('must be a string')
        .min(1, 'must not be empty')
        .max(MAX_RESOURCE_LENGTH, `must be at most ${MAX_RESOURCE_LENGTH} characters`),
    ),
    quantity: z.preprocess(
      outOfRange(MAX_QUANTITY),
      z
        .number('must be a number')
        .nonnegative('must be >= 0')
        .max(MAX_QUANTITY, `must be at most ${MAX_QUANTITY}`),
    ),
    cost_cents: z.preprocess(
      outOfRange(MAX_COST_CENTS),
      z
        .number('must be an integer')
        .int('must be an integer')
        .nonnegative('must be >= 0')
        .max(MAX_COST_CENTS, `must be at most ${MAX_COST_CENTS}`),
    ),
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

/** Entries and depth kept of a rejected record's copy. */
const STORED_ITEMS = 100;
const STORED_DEPTH = 8;

/**
 * A rejected record as written, as JSON that PostgreSQL's jsonb stores whatever the input: dates
 * as ISO strings, big integers as strings, text made storable and cut (storableText), at most
 * STORED_ITEMS entries per table or array and STORED_DEPTH levels.
 */
function plain(value: unknown, depth = 0): unknown {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
  if (typeof value === 'string') return storableText(value);
  if (typeof value === 'bigint') return String(value);
  if (value !== null && typeof value === 'object') {
    if (depth >= STORED_DEPTH) return '…';
    if (Array.isArray(value)) {
      const items = value.slice(0, STORED_ITEMS).map((v) => plain(v, depth + 1));
      return value.length > STORED_ITEMS ? [...items, `…[${value.length - STORED_ITEMS} more]`] : items;
    }
    const entries = Object.entries(value);
    const kept = entries
      .slice(0, STORED_ITEMS)
      .map(([k, v]) => [storableText(k, 200), plain(v, depth + 1)] as const);
    if (entries.length > STORED_ITEMS) kept.push(['…', `${entries.length - STORED_ITEMS} more keys`]);
    return Object.fromEntries(kept);
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
 * not accept goes through the zod schema, which is the definition and words the reason. It must
 * accept exactly what the schema accepts, with the same result (a property test holds them to it).
 */
export function fastUsageRecord(raw: Record<string, unknown>): UsageRecord | null {
  const key = raw.idempotency_key;
  const user = raw.user_id;
  const allocation = raw.allocation_id;
  const node = raw.node_name;
  const resource = raw.resource;
  const quantity = raw.quantity;
  const cost = raw.cost_cents;
  const start = raw.period_start;
  const end = raw.period_end;
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH || key.trim() !== key)
    return null;
  if (!isStorable(key)) return null;
  if (typeof user !== 'string' || !GUID.test(user)) return null;
  if (allocation !== undefined && (typeof allocation !== 'string' || !GUID.test(allocation))) return null;
  if (typeof node !== 'string' || node.length === 0 || !isStorable(node)) return null;
  if (typeof resource !== 'string' || resource.length === 0 || resource.length > MAX_RESOURCE_LENGTH)
    return null;
  if (!isStorable(resource)) return null;
  if (typeof quantity !== 'number' || !(quantity >= 0) || !(quantity <= MAX_QUANTITY)) return null;
  if (typeof cost !== 'number' || !Number.isSafeInteger(cost) || cost < 0 || cost > MAX_COST_CENTS)
    return null;
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

/** The record checked by the zod schema alone: the definition (see fastUsageRecord). */
export function schemaUsageRecord(raw: unknown): UsageRecord | { reason: string } {
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

function validateRecord(raw: unknown, fast: boolean): UsageRecord | { reason: string } {
  if (fast && raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const record = fastUsageRecord(raw as Record<string, unknown>);
    if (record) return record;
  }
  return schemaUsageRecord(raw);
}

export interface ParseOptions {
  /**
   * false: neither the fast TOML path nor the hand-written record check, only smol-toml and the
   * zod schema (tests compare the two ways; the result must be the same).
   */
  fastPaths?: boolean;
}

/**
 * Parses one batch file read from `nodes/<node>/…`. Throws UsageFileError when the file is
 * not a usage batch at all (TOML syntax, no `records` array, another node's name at the top);
 * returns the valid records and the rejected ones otherwise. A record for another node than
 * the file's directory is rejected.
 */
export function parseUsageFile(
  text: string,
  file: { node: string; path: string },
  options: ParseOptions = {},
): ParsedUsageFile {
  const fast = options.fastPaths ?? true;
  let doc: Record<string, unknown>;
  try {
    doc =
      (fast ? parseSimpleUsageToml(text) : null) ??
      (parseToml(text, { integersAsBigInt: 'asNeeded' }) as Record<string, unknown>);
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
      `node_name ${quoted(batch.data.node_name)} does not match the node directory "${file.node}"`,
    );
  }

  const records: UsageRecord[] = [];
  const rejected: RejectedRecord[] = [];
  for (const [index, raw] of batch.data.records.entries()) {
    const checked = validateRecord(raw, fast);
    let reason: string | null = null;
    if ('reason' in checked) reason = `records[${index}]: ${checked.reason}`;
    else if (checked.nodeName !== file.node) {
      reason = `records[${index}]: node_name ${quoted(checked.nodeName)} does not match the node directory "${file.node}"`;
    }
    if (reason === null) {
      records.push(checked as UsageRecord);
      continue;
    }
    const obj = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : { value: raw };
    rejected.push({
      idempotencyKey: typeof obj.idempotency_key === 'string' ? storableText(obj.idempotency_key) : null,
      userId: typeof obj.user_id === 'string' ? storableText(obj.user_id, 200) : null,
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
