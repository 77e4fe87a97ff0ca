import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatUsageBatch, parseUsageFile, UsageFileError, usageFileNode } from './usage-format.ts';

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
