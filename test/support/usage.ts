import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { formatUsageBatch, type UsageRecordInput } from '@hero/core/usage/usage-format';
import { commitWithFastImport, type GeneratedUsage, generateUsage } from '../../scripts/lib/usage-fixture.ts';

const run = promisify(execFile);

export interface UsageUser {
  id: string;
  email: string;
}

type Db = { query: <T extends object>(text: string, params?: unknown[]) => Promise<T[]> };

/** Each user's balance in cents. */
export async function balancesOf(db: Db, users: UsageUser[]): Promise<Map<string, number>> {
  const rows = await db.query<{ user_id: string; b: string }>(
    'select user_id, credit_balance_cents::text as b from billing where user_id = any($1::uuid[])',
    [users.map((u) => u.id)],
  );
  return new Map(rows.map((r) => [r.user_id, Number(r.b)]));
}

/** Generated usage for `users` (see generateUsage), committed to the bare repository in one commit. */
export async function seedUsage(
  repoDir: string,
  users: UsageUser[],
  shape: { nodes: number; filesPerNode: number; recordsPerFile: number; nodePrefix: string },
): Promise<GeneratedUsage> {
  const gen = generateUsage({ ...shape, userIds: users.map((u) => u.id) });
  await commitWithFastImport(repoDir, [{ message: `usage ${shape.nodePrefix}`, files: gen.files }]);
  return gen;
}

/** `count` users with a billing row (and its ledger row) at `balanceCents`, straight in SQL (aggregation needs no API token). */
export async function createUsageUsers(db: Db, count: number, balanceCents = 10_000): Promise<UsageUser[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  const emails = ids.map((id) => `usage-${id.slice(0, 8)}@example.org`);
  await db.query(
    `insert into users (id, email, display_name) select u.id, u.email, 'Usage user' from unnest($1::uuid[], $2::text[]) as u(id, email)`,
    [ids, emails],
  );
  await db.query(`insert into billing (user_id, credit_balance_cents) select unnest($1::uuid[]), $2`, [
    ids,
    balanceCents,
  ]);
  // The starting credit goes through the ledger too, so balance = sum of ledger holds from here on.
  if (balanceCents !== 0) {
    await db.query(
      `insert into ledger_entry (user_id, kind, amount_cents, balance_after_cents, currency, note)
       select unnest($1::uuid[]), 'ADJUSTMENT', $2, $2, 'EUR', 'test starting credit'`,
      [ids, balanceCents],
    );
  }
  return ids.map((id, i) => ({ id, email: emails[i] }));
}

let seq = 0;

/** A usage record for `node` (period 2026-11-23 10:00-11:00 unless said), with a unique key by default. */
export function usageRecord(
  node: string,
  userId: string,
  costCents: number,
  overrides: Partial<UsageRecordInput> = {},
): UsageRecordInput {
  seq++;
  return {
    idempotencyKey: `${node}/2026-11-23T10/r${seq}-${randomUUID().slice(0, 8)}`,
    userId,
    nodeName: node,
    resource: 'cpu_core_seconds',
    quantity: 3600,
    costCents,
    periodStart: new Date('2026-11-23T10:00:00Z'),
    periodEnd: new Date('2026-11-23T11:00:00Z'),
    ...overrides,
  };
}

/** `nodes/<node>/usage_<hour>.otoml` → its TOML text. */
export function batchFile(node: string, hour: string, records: UsageRecordInput[]): [string, string] {
  return [`nodes/${node}/usage_${hour}.otoml`, formatUsageBatch({ node, period: hour, records })];
}

export interface BareRepo {
  dir: string;
  remove(): Promise<void>;
}

/** An empty bare git repository with `main` as its default branch. */
export async function createBareRepo(): Promise<BareRepo> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hero-billing-'));
  await run('git', ['init', '--bare', '--quiet', '--initial-branch=main', dir]);
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Per user: the sum of their records' costs. */
export function expectedDebits(records: UsageRecordInput[]): Map<string, number> {
  const sums = new Map<string, number>();
  for (const r of records) sums.set(r.userId, (sums.get(r.userId) ?? 0) + r.costCents);
  return sums;
}
