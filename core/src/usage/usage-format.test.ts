import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { TomlDate } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import {
  fastUsageRecord,
  formatUsageBatch,
  IGNORED_FILE_NAME,
  IGNORED_OUTSIDE_NODE,
  IGNORED_SUBDIRECTORY,
  ignoredReason,
  MAX_COST_CENTS,
  MAX_QUANTITY,
  parseUsageFile,
  schemaUsageRecord,
  storableText,
  UsageFileError,
  usageFileNode,
} from './usage-format.ts';

const REPO_EXAMPLES = path.resolve(import.meta.dirname, '../../../examples');
const USER = '0e6c1f0a-2d1b-4c55-9a51-6f3f0a9b7c11';
const file = { node: 'node-7', path: 'nodes/node-7/usage_2026-11-23-10.otoml' };

const record = (extra: string) => `
[[records]]
idempotency_key = "k1"
user_id = "${USER}"
node_name = "node-7"
resource = "cpu_core_seconds"
quantity = 7200
cost_cents = 24
period_start = 2026-11-23T10:00:00Z
period_end = 2026-11-23T11:00:00Z
${extra}`;

describe('usage batch format', () => {
  it('parses every usage example the repository ships', () => {
    const examples = readdirSync(REPO_EXAMPLES)
      .map((f) => path.join(REPO_EXAMPLES, f))
      .filter((f) => f.endsWith('.otoml'));
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const example of examples) {
      const text = readFileSync(example, 'utf8');
      const node = /node_name = "([^"]+)"/.exec(text)?.[1] ?? '';
      const parsed = parseUsageFile(text, { node, path: `nodes/${node}/${path.basename(example)}` });
      expect(parsed.rejected, example).toEqual([]);
      expect(parsed.records.length, example).toBeGreaterThan(0);
    }
  });

  it('reads the example batch record for record', () => {
    const text = readFileSync(path.join(REPO_EXAMPLES, 'usage_2026-11-23-10.otoml'), 'utf8');
    const { records } = parseUsageFile(text, file);
    expect(records).toEqual([
      {
        idempotencyKey: 'node-7/2026-11-23T10/vm-eu-001/cpu',
        userId: USER,
        allocationId: '7d7f3c2e-1a4b-4f0e-8c61-2b5a9e0d4f22',
        nodeName: 'node-7',
        resource: 'cpu_core_seconds',
        quantity: 7200,
        costCents: 24,
        periodStart: new Date('2026-11-23T10:00:00Z'),
        periodEnd: new Date('2026-11-23T11:00:00Z'),
      },
      expect.objectContaining({
        idempotencyKey: 'node-7/2026-11-23T10/vm-eu-001/egress',
        costCents: 5,
        quantity: 1073741824,
      }),
    ]);
  });

  it('fails the whole file on TOML syntax, a missing records array or another node name, naming the file', () => {
    expect(() => parseUsageFile('records = [\n', file)).toThrow(UsageFileError);
    expect(() => parseUsageFile('records = [\n', file)).toThrow(
      /^nodes\/node-7\/usage_2026-11-23-10\.otoml: not valid TOML \(line/,
    );
    expect(() => parseUsageFile('node_name = "node-7"\n', file)).toThrow(/not a usage batch: records/);
    expect(() => parseUsageFile(`node_name = "node-8"\n${record('')}`, file)).toThrow(
      /node_name "node-8" does not match the node directory "node-7"/,
    );
  });

  it('rejects single records with every reason and keeps the valid ones', () => {
    const text = `${record('')}
[[records]]
user_id = "not-a-uuid"
node_name = "node-7"
resource = "egress_bytes"
quantity = -1
cost_cents = 1.5
period_start = 2026-11-23T11:00:00Z
period_end = 2026-11-23T10:00:00Z

[[records]]
idempotency_key = "local-time"
user_id = "${USER}"
node_name = "node-7"
resource = "cpu"
quantity = 1
cost_cents = 1
period_start = 2026-11-23T10:00:00
period_end = 2026-11-23T11:00:00Z

[[records]]
idempotency_key = "other-node"
user_id = "${USER}"
node_name = "node-9"
resource = "cpu"
quantity = 1
cost_cents = 1
period_start = 2026-11-23T10:00:00Z
period_end = 2026-11-23T11:00:00Z
`;
    const { records, rejected } = parseUsageFile(text, file);
    expect(records.map((r) => r.idempotencyKey)).toEqual(['k1']);
    expect(rejected).toHaveLength(3);
    const [missing, local, other] = rejected;
    expect(missing.idempotencyKey).toBeNull();
    expect(missing.reason).toMatch(/^records\[1\]: /);
    for (const part of [
      'idempotency_key',
      'user_id: must be a uuid',
      'quantity: must be >= 0',
      'cost_cents: must be an integer',
    ]) {
      expect(missing.reason).toContain(part);
    }
    expect(missing.record).toMatchObject({ user_id: 'not-a-uuid', period_start: '2026-11-23T11:00:00.000Z' });
    expect(local.reason).toMatch(/records\[2\]: period_start: .*time zone offset/);
    expect(other.reason).toBe('records[3]: node_name "node-9" does not match the node directory "node-7"');
  });

  it('accepts what formatUsageBatch writes, unchanged', () => {
    const records = [
      {
        idempotencyKey: 'node-7/x "quoted" \\ key',
        userId: USER,
        allocationId: null,
        nodeName: 'node-7',
        resource: 'égress',
        quantity: 0.25,
        costCents: 0,
        periodStart: new Date('2026-11-23T10:00:00.123Z'),
        periodEnd: new Date('2026-11-23T11:00:00Z'),
      },
    ];
    const parsed = parseUsageFile(
      formatUsageBatch({ node: 'node-7', period: '2026-11-23-10', records }),
      file,
    );
    expect(parsed.rejected).toEqual([]);
    expect(parsed.records).toEqual(records);
  });

  it('knows a usage file path from any other', () => {
    expect(usageFileNode('nodes/node-7/usage_2026-11-23-10.otoml')).toBe('node-7');
    expect(usageFileNode('nodes/node-7/README.md')).toBeNull();
    expect(usageFileNode('nodes/node-7/sub/usage_2026-11-23-10.otoml')).toBeNull();
    expect(usageFileNode('other/node-7/usage_2026-11-23-10.otoml')).toBeNull();
    expect(usageFileNode('nodes/node-7/usage_2026-11-23.otoml')).toBeNull();
  });
});

/** Every string in `value`, object keys included. */
function allText(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(allText);
  if (value !== null && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => [k, ...allText(v)]);
  return [];
}

/** One record's TOML with `fields` replacing (or, when undefined, removing) the defaults. */
function recordToml(fields: Record<string, string | undefined>): string {
  const all: Record<string, string | undefined> = {
    idempotency_key: '"k-ok"',
    user_id: `"${USER}"`,
    node_name: '"node-7"',
    resource: '"cpu"',
    quantity: '1',
    cost_cents: '1',
    period_start: '2026-11-23T10:00:00Z',
    period_end: '2026-11-23T11:00:00Z',
    ...fields,
  };
  return `\n[[records]]\n${Object.entries(all)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n')}\n`;
}

describe('records PostgreSQL cannot store, and bounds', () => {
  it('rejects a NUL in any text field with file index and field, and applies the records beside it', () => {
    const text =
      recordToml({ idempotency_key: '"good-1"' }) +
      recordToml({ idempotency_key: '"n-nul\\u0000"' }) +
      recordToml({ idempotency_key: '"nul-resource"', resource: '"cpu\\u0000"' }) +
      recordToml({ idempotency_key: '"nul-node"', node_name: '"node-7\\u0000"' }) +
      recordToml({ idempotency_key: '"good-2"', extra: '"unknown keys may hold \\u0000"' });
    for (const fastPaths of [true, false]) {
      const { records, rejected } = parseUsageFile(text, file, { fastPaths });
      expect(records.map((r) => r.idempotencyKey)).toEqual(['good-1', 'good-2']);
      expect(rejected.map((r) => r.reason)).toEqual([
        'records[1]: idempotency_key: must not contain a NUL character (U+0000)',
        'records[2]: resource: must not contain a NUL character (U+0000)',
        'records[3]: node_name: must not contain a NUL character (U+0000)',
      ]);
      // What is kept of the bad record can be stored: the NUL is written as its escape.
      expect(rejected[0].idempotencyKey).toBe('n-nul\\u0000');
      expect(rejected[0].record.idempotency_key).toBe('n-nul\\u0000');
      expect(allText(rejected).some((t) => t.includes('\u0000'))).toBe(false);
    }
  });

  it('a file naming another node at the top fails with a message that can be stored (NUL escaped, cut)', () => {
    let message = '';
    try {
      parseUsageFile(`node_name = "evil\\u0000${'x'.repeat(300)}"\n${recordToml({})}`, file);
    } catch (err) {
      expect(err).toBeInstanceOf(UsageFileError);
      message = (err as Error).message;
    }
    expect(message).toMatch(
      /^nodes\/node-7\/usage_2026-11-23-10\.otoml: node_name "evil\\\\u0000x+…\[165 more characters\]" does not match/,
    );
    expect(message).not.toContain('\u0000');
  });

  it('rejects an unpaired surrogate (which no TOML parser here produces, but a record object may hold)', () => {
    const raw = {
      idempotency_key: 'half \ud800 pair',
      user_id: USER,
      node_name: 'node-7',
      resource: 'cpu',
      quantity: 1,
      cost_cents: 1,
      period_start: new TomlDate('2026-11-23T10:00:00Z'),
      period_end: new TomlDate('2026-11-23T11:00:00Z'),
    };
    expect(fastUsageRecord(raw)).toBeNull();
    expect(schemaUsageRecord(raw)).toEqual({
      reason: 'idempotency_key: must not contain an unpaired surrogate (not valid Unicode)',
    });
    // A whole pair is fine.
    expect(fastUsageRecord({ ...raw, idempotency_key: 'clef 𝄞' })).toMatchObject({
      idempotencyKey: 'clef 𝄞',
    });
    expect(storableText('a\ud800b\udc00c\u0000 𝄞')).toBe('a\\ud800b\\udc00c\\u0000 𝄞');
    expect(storableText('x'.repeat(1005))).toBe(`${'x'.repeat(1000)}…[5 more characters]`);
  });

  it('rejects over-long text and keeps a bounded, storable copy of huge input', () => {
    const text =
      recordToml({ idempotency_key: `"${'k'.repeat(513)}"` }) +
      recordToml({ idempotency_key: '"long-resource"', resource: `"${'r'.repeat(201)}"` }) +
      recordToml({
        idempotency_key: '"other"',
        node_name: `"${'n'.repeat(5000)}"`,
        note: `"${'z'.repeat(50_000)}"`,
      });
    const { records, rejected } = parseUsageFile(text, file);
    expect(records).toEqual([]);
    expect(rejected.map((r) => r.reason)).toEqual([
      'records[0]: idempotency_key: must be at most 512 characters',
      'records[1]: resource: must be at most 200 characters',
      `records[2]: node_name "${'n'.repeat(140)}…[4860 more characters]" does not match the node directory "node-7"`,
    ]);
    expect(rejected[2].record.note).toBe(`${'z'.repeat(1000)}…[49000 more characters]`);
  });

  it(`bounds cost_cents (<= ${MAX_COST_CENTS}) and quantity (<= ${MAX_QUANTITY}) per record, big integers included`, () => {
    const text =
      recordToml({ idempotency_key: '"at-bounds"', cost_cents: String(MAX_COST_CENTS), quantity: '1e15' }) +
      recordToml({ idempotency_key: '"max-safe"', cost_cents: '9007199254740991' }) +
      recordToml({ idempotency_key: '"just-over"', cost_cents: String(MAX_COST_CENTS + 1) }) +
      recordToml({ idempotency_key: '"int64"', cost_cents: '9223372036854775807' }) +
      recordToml({ idempotency_key: '"neg-int64"', cost_cents: '-9223372036854775808' }) +
      recordToml({ idempotency_key: '"quantity"', quantity: '1000000000000001' }) +
      recordToml({ idempotency_key: '"quantity-big-int"', quantity: '18446744073709551615' }) +
      recordToml({ idempotency_key: '"quantity-inf"', quantity: 'inf' });
    for (const fastPaths of [true, false]) {
      const { records, rejected } = parseUsageFile(text, file, { fastPaths });
      expect(records.map((r) => [r.idempotencyKey, r.costCents, r.quantity])).toEqual([
        ['at-bounds', MAX_COST_CENTS, MAX_QUANTITY],
      ]);
      expect(rejected.map((r) => r.reason)).toEqual([
        `records[1]: cost_cents: must be at most ${MAX_COST_CENTS}`,
        `records[2]: cost_cents: must be at most ${MAX_COST_CENTS}`,
        `records[3]: cost_cents: must be at most ${MAX_COST_CENTS}`,
        'records[4]: cost_cents: must be >= 0',
        `records[5]: quantity: must be at most ${MAX_QUANTITY}`,
        `records[6]: quantity: must be at most ${MAX_QUANTITY}`,
        'records[7]: quantity: must be a number',
      ]);
      // The big integer is kept as written (jsonb has no 64-bit integers to lose it in).
      expect(rejected[2].record.cost_cents).toBe('9223372036854775807');
    }
  });

  it('refuses keys with surrounding whitespace on both paths, as the format says (never trims them)', () => {
    for (const key of [' k', 'k ', '\tk', 'k\u00a0', '   ']) {
      const text = recordToml({ idempotency_key: JSON.stringify(key) });
      for (const fastPaths of [true, false]) {
        const { records, rejected } = parseUsageFile(text, file, { fastPaths });
        expect(records, JSON.stringify(key)).toEqual([]);
        expect(rejected.map((r) => r.reason)).toEqual([
          'records[0]: idempotency_key: must not begin or end with whitespace',
        ]);
        expect(rejected[0].idempotencyKey).toBe(key);
      }
    }
  });

  it('the hand-written check and the zod schema accept exactly the same records, with the same result', () => {
    const date = (s: string) => new TomlDate(s);
    const tricky = fc.constantFrom(
      '',
      ' ',
      ' k',
      'k ',
      'k\u0000',
      '\u0000',
      'a\ud800',
      '\udc00b',
      '\u00a0k',
      'k\n',
      'k'.repeat(513),
      'r'.repeat(201),
    );
    const text = fc.oneof(
      {
        weight: 8,
        arbitrary: fc.constantFrom(
          'k',
          'node-7/2026-11-23T10/vm/cpu',
          '𝄞 é',
          'k'.repeat(512),
          'r'.repeat(200),
        ),
      },
      { weight: 4, arbitrary: fc.string({ maxLength: 10 }) },
      { weight: 2, arbitrary: tricky },
    );
    const uuid = fc.oneof(
      { weight: 8, arbitrary: fc.oneof(fc.constant(USER), fc.constant(USER.toUpperCase()), fc.uuid()) },
      { weight: 1, arbitrary: fc.constantFrom('not-a-uuid', `${USER} `, `${USER}\u0000`) },
    );
    const number = fc.oneof(
      { weight: 8, arbitrary: fc.oneof(fc.nat(), fc.constantFrom(0, -0, 1, MAX_COST_CENTS, MAX_QUANTITY)) },
      { weight: 2, arbitrary: fc.double() },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          -1,
          1.5,
          MAX_COST_CENTS + 1,
          MAX_QUANTITY + 1,
          Number.MAX_SAFE_INTEGER,
          Number.NaN,
          Number.POSITIVE_INFINITY,
          2 ** 60,
          2n ** 63n - 1n,
          -(2n ** 63n),
        ),
      },
    );
    const when = fc.constantFrom(
      date('2026-11-23T10:00:00Z'),
      date('2026-11-23T10:00:00Z'),
      date('2026-11-23T11:00:00+02:00'),
      date('2026-11-23T12:00:00Z'),
      date('2026-11-23T12:00:00.5Z'),
      date('2026-11-23T10:00:00'),
      date('2026-11-23'),
    );
    const anyValue = fc.oneof(text, number, fc.boolean(), when, fc.constant(['x']));
    const field = <T>(valid: fc.Arbitrary<T>) =>
      fc.oneof(
        { weight: 30, arbitrary: valid },
        { weight: 1, arbitrary: anyValue },
        { weight: 1, arbitrary: fc.constant(undefined) },
      );
    const record = fc.record({
      idempotency_key: field(text),
      user_id: field(uuid),
      allocation_id: fc.oneof(fc.constant(undefined), uuid),
      node_name: field(
        fc.oneof({ weight: 5, arbitrary: fc.constant('node-7') }, { weight: 1, arbitrary: text }),
      ),
      resource: field(text),
      quantity: field(number),
      cost_cents: field(number),
      period_start: field(when),
      period_end: field(when),
    });
    let accepted = 0;
    fc.assert(
      fc.property(record, (generated) => {
        const raw = Object.fromEntries(Object.entries(generated).filter(([, v]) => v !== undefined));
        const fast = fastUsageRecord(raw);
        const schema = schemaUsageRecord(raw);
        if (fast === null) expect(schema).toHaveProperty('reason');
        else {
          accepted++;
          expect(schema).toEqual(fast);
        }
      }),
      { numRuns: 5000, seed: 7 },
    );
    // The generator reaches both sides.
    expect(accepted).toBeGreaterThan(100);
  });
});

describe('the repository layout', () => {
  it('says why a file under a node directory is not read', () => {
    expect(ignoredReason('nodes/node-7/usage_2026-11-23-10.otoml', 'node-7')).toBeNull();
    expect(ignoredReason('nodes/node-7/usage_2026-11-23-1.otoml', 'node-7')).toBe(IGNORED_FILE_NAME);
    expect(ignoredReason('nodes/node-7/usage_2026-11-23-10.toml', 'node-7')).toBe(IGNORED_FILE_NAME);
    expect(ignoredReason('nodes/node-7/README.md', 'node-7')).toBe(IGNORED_FILE_NAME);
    expect(ignoredReason('nodes/node-7/old/usage_2026-11-23-10.otoml', 'node-7')).toBe(IGNORED_SUBDIRECTORY);
    expect(ignoredReason('nodes/node-8/usage_2026-11-23-10.otoml', 'node-7')).toBe(IGNORED_OUTSIDE_NODE);
  });
});
