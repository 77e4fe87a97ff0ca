/**
 * `npm run bench:aggregate`: usage aggregation throughput on a local git billing repository.
 *
 * Generates BENCH_RECORDS usage records (default 1,000,000) over BENCH_NODES nodes (20) and
 * BENCH_FILES files (500) in a bare git repository, for BENCH_USERS users (10,000), then
 * measures, side by side in one run on one database server:
 *   - end to end: `aggregateUsage` (what the aggregator worker runs each tick) from the git
 *     source to debited balances: read, parse, validate, apply;
 *   - the apply phase alone: the same batches (NodeBatcher → one transaction per batch:
 *     consumed keys ON CONFLICT DO NOTHING RETURNING + balance debit) on records parsed
 *     beforehand;
 *   - a naive baseline on a BENCH_NAIVE_SAMPLE sample (20,000): one record per transaction,
 *     a round trip each for lookup, insert and balance update;
 *   - the physical limit: a plain COPY of the same rows into an unindexed table.
 * Targets: end to end >= 50,000 records/s; apply >= 50x naive and >= 25% of COPY.
 *
 * Environment (optional): BENCH_DATABASE_URL (else 127.0.0.1:5432 if it answers, else an
 * embedded PostgreSQL), BENCH_RECORDS, BENCH_NODES, BENCH_FILES, BENCH_USERS,
 * BENCH_NAIVE_SAMPLE, BENCH_BATCH_SIZE (the aggregator's default, 50000).
 *
 * Exits 0 whatever the figures (a report); 1 when a correctness check fails (a balance off by
 * a cent, a key missing or applied twice).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { migrate } from '@hero/core/db/migrate';
import { createOrm, type MikroORM } from '@hero/core/db/orm';
import {
  ApplyLanes,
  aggregateUsage,
  DEFAULT_APPLY_CONNECTIONS,
  NodeBatcher,
} from '@hero/core/usage/aggregate-usage';
import { DEFAULT_AGGREGATE_BATCH_SIZE } from '@hero/core/usage/batch-size';
import { GitSource } from '@hero/core/usage/sources/git-source';
import { type ParsedUsageFile, parseUsageFile, type UsageRecord } from '@hero/core/usage/usage-format';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { adminQuery, dropDatabase, quoteIdent, withDatabase } from '../lib/postgres.ts';
import { commitWithFastImport, generateUsage } from '../lib/usage-fixture.ts';
import { type BenchCleanup, intEnv, resolvePgServer, runBench } from './common.ts';

const run = promisify(execFile);

const TARGET_END_TO_END = 50_000;
const TARGET_VS_NAIVE = 50;
const TARGET_VS_COPY = 0.25;

function loadSettings() {
  const records = intEnv('BENCH_RECORDS', 1_000_000, 1);
  const nodes = intEnv('BENCH_NODES', 20, 1);
  const files = intEnv('BENCH_FILES', 500, nodes);
  if (files % nodes !== 0) throw new Error('BENCH_FILES must be a multiple of BENCH_NODES');
  if (records % files !== 0) throw new Error('BENCH_RECORDS must be a multiple of BENCH_FILES');
  return {
    records,
    nodes,
    files,
    users: intEnv('BENCH_USERS', 10_000, 1),
    naiveSample: intEnv('BENCH_NAIVE_SAMPLE', 20_000, 1),
    batchSize: intEnv('BENCH_BATCH_SIZE', DEFAULT_AGGREGATE_BATCH_SIZE, 1),
  };
}

const rate = (n: number, ms: number) => (n / ms) * 1000;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** Back to "nothing consumed, every balance at zero" (no dead rows left for the next phase). */
async function resetUsage(sql: pg.Pool): Promise<void> {
  await sql.query(
    'truncate consumed_record, usage_file_state, aggregator_node_state, rejected_usage_record, usage_copy, ledger_entry',
  );
  await sql.query('update billing set credit_balance_cents = 0');
  await sql.query('vacuum analyze billing, consumed_record');
  await sql.query('checkpoint');
}

/** Problems with the debits after a phase (empty = exact). */
async function checkDebits(sql: pg.Pool, expected: Map<string, number>, records: number): Promise<string[]> {
  const problems: string[] = [];
  const [{ n, distinct }] = (
    await sql.query<{ n: number; distinct: number }>(
      'select count(*)::int as n, count(distinct idempotency_key)::int as distinct from consumed_record',
    )
  ).rows;
  if (n !== records) problems.push(`${n} consumed records, expected ${records}`);
  if (distinct !== n) problems.push(`${n - distinct} keys consumed twice`);
  const rows = (
    await sql.query<{ user_id: string; b: string }>(
      'select user_id, credit_balance_cents::text as b from billing',
    )
  ).rows;
  let wrong = 0;
  for (const row of rows) if (Number(row.b) !== -(expected.get(row.user_id) ?? 0)) wrong++;
  if (wrong > 0) problems.push(`${wrong} balances differ from the expected sums`);
  const [{ drifted }] = (
    await sql.query<{ drifted: number }>(
      `select count(*)::int as drifted from billing b
         left join (select user_id, sum(amount_cents) as cents from ledger_entry group by user_id) l
           on l.user_id = b.user_id
        where b.credit_balance_cents <> coalesce(l.cents, 0)`,
    )
  ).rows;
  if (drifted > 0) problems.push(`${drifted} balances differ from the sum of their ledger rows`);
  return problems;
}

/** One record per transaction, a round trip per step: what not to do. */
async function naiveApply(sql: pg.Pool, node: string, path: string, records: UsageRecord[]): Promise<void> {
  const client = await sql.connect();
  try {
    for (const r of records) {
      await client.query('begin');
      const seen = await client.query('select 1 from consumed_record where idempotency_key = $1', [
        r.idempotencyKey,
      ]);
      if (seen.rowCount === 0) {
        await client.query(
          `insert into consumed_record (idempotency_key, user_id, node_name, file_path, resource, quantity, cost_cents,
                                        period_start, period_end, allocation_id)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [
            r.idempotencyKey,
            r.userId,
            node,
            path,
            r.resource,
            r.quantity,
            r.costCents,
            r.periodStart,
            r.periodEnd,
            r.allocationId,
          ],
        );
        // The debit and its ledger row, as core/src/billing/ledger.ts posts one.
        await client.query(
          `with moved as (
             update billing set credit_balance_cents = credit_balance_cents - $1, updated_at = now()
              where user_id = $2 returning user_id, credit_balance_cents, currency
           )
           insert into ledger_entry (user_id, kind, amount_cents, balance_after_cents, currency, reference)
           select user_id, 'USAGE', -$1::bigint, credit_balance_cents, currency, $3 from moved`,
          [r.costCents, r.userId, `usage:${node}`],
        );
      }
      await client.query('commit');
    }
  } finally {
    client.release();
  }
}

const copyText = (v: string | number | null) =>
  v === null ? '\\N' : String(v).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n');

/** The same rows through COPY into an unindexed table: the physical limit of getting them in. */
async function copyRows(sql: pg.Pool, files: ParsedFile[]): Promise<void> {
  const client = await sql.connect();
  try {
    const stream = client.query(
      copyFrom(
        `copy usage_copy (idempotency_key, user_id, node_name, file_path, resource, quantity, cost_cents,
                          period_start, period_end, allocation_id) from stdin`,
      ),
    );
    async function* lines() {
      for (const f of files) {
        let chunk = '';
        for (const r of f.parsed.records) {
          chunk += `${[
            r.idempotencyKey,
            r.userId,
            f.node,
            f.path,
            r.resource,
            r.quantity,
            r.costCents,
            r.periodStart.toISOString(),
            r.periodEnd.toISOString(),
            r.allocationId,
          ]
            .map(copyText)
            .join('\t')}\n`;
        }
        yield chunk;
      }
    }
    await pipeline(Readable.from(lines()), stream);
  } finally {
    client.release();
  }
}

interface ParsedFile {
  node: string;
  path: string;
  blobSha: string;
  parsed: ParsedUsageFile;
}

async function main(cleanup: BenchCleanup): Promise<number> {
  const settings = loadSettings();
  const step = (label: string) => console.log(`· ${label}`);
  const server = await resolvePgServer();
  cleanup.deferServerStop(server.stop);
  const dbName = `hero_bench_aggregate_${Date.now()}`;
  await adminQuery(server.adminUrl, `create database ${quoteIdent(dbName)}`);
  cleanup.deferDrop(() => dropDatabase(server.adminUrl, dbName));
  const databaseUrl = withDatabase(server.adminUrl, dbName);
  step(`database ${dbName} on ${server.description}`);
  const orm: MikroORM = await createOrm({ databaseUrl, poolMax: 4 });
  cleanup.defer(() => orm.close(true));
  await migrate(orm);
  const sql = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  sql.on('error', () => {});
  cleanup.defer(() => sql.end());
  await sql.query(
    `create table usage_copy (idempotency_key text, user_id uuid, node_name text, file_path text, resource text,
                              quantity double precision, cost_cents bigint, period_start timestamptz,
                              period_end timestamptz, allocation_id uuid)`,
  );

  // Users and the billing repository.
  let started = performance.now();
  const userIds = Array.from({ length: settings.users }, () => randomUUID());
  await sql.query(
    `insert into users (id, email, display_name) select id, id::text || '@bench.test', 'Bench user'
       from unnest($1::uuid[]) as id`,
    [userIds],
  );
  await sql.query('insert into billing (user_id) select unnest($1::uuid[])', [userIds]);
  const repoDir = await mkdtemp(path.join(tmpdir(), 'hero-bench-billing-'));
  cleanup.defer(() => rm(repoDir, { recursive: true, force: true }));
  await run('git', ['init', '--bare', '--quiet', '--initial-branch=main', repoDir]);
  const gen = generateUsage({
    nodes: settings.nodes,
    filesPerNode: settings.files / settings.nodes,
    recordsPerFile: settings.records / settings.files,
    userIds,
  });
  // One commit per node, as nodes push.
  const byNode = new Map<string, typeof gen.files>();
  for (const file of gen.files) {
    const node = file[0].split('/')[1];
    byNode.set(node, [...(byNode.get(node) ?? []), file]);
  }
  await commitWithFastImport(
    repoDir,
    [...byNode].map(([node, files]) => ({ message: `usage: ${node}`, files })),
  );
  const bytes = gen.files.reduce((n, [, c]) => n + Buffer.byteLength(c), 0);
  step(
    `generated ${fmt(gen.records)} records in ${settings.files} files over ${settings.nodes} nodes ` +
      `(${(bytes / 1e6).toFixed(0)} MB of TOML) for ${fmt(settings.users)} users, committed to ${repoDir} ` +
      `in ${((performance.now() - started) / 1000).toFixed(1)}s`,
  );
  await resetUsage(sql);
  const problems: string[] = [];

  // 1. End to end: the aggregator's tick.
  const source = new GitSource({ url: repoDir, branch: 'main', cacheDir: repoDir });
  started = performance.now();
  const summary = await aggregateUsage(orm.em.fork(), { source, batchSize: settings.batchSize });
  const endToEndMs = performance.now() - started;
  step(
    `end to end: ${fmt(summary.recordsApplied)} applied, ${summary.filesRead} files, ` +
      `${summary.nodesFailed} nodes failed in ${(endToEndMs / 1000).toFixed(2)}s`,
  );
  if (summary.nodesFailed > 0) problems.push(`end to end: ${summary.errors.join('; ')}`);
  problems.push(...(await checkDebits(sql, gen.expected, gen.records)).map((p) => `end to end: ${p}`));

  // Parse everything up front for the phases that measure the database side alone.
  started = performance.now();
  const parsedFiles: ParsedFile[] = gen.files.map(([p, text]) => {
    const node = p.split('/')[1];
    return { node, path: p, blobSha: p, parsed: parseUsageFile(String(text), { node, path: p }) };
  });
  const parseMs = performance.now() - started;
  step(`parse + validate alone (one thread): ${fmt(rate(gen.records, parseMs))} records/s`);

  // 2. The apply phase alone: the aggregator's batches on parsed records.
  await resetUsage(sql);
  started = performance.now();
  const em = orm.em.fork();
  const knownUsers = new Set<string>();
  const lane = new ApplyLanes(DEFAULT_APPLY_CONNECTIONS);
  const failures: string[] = [];
  for (const [node, files] of Map.groupBy(parsedFiles, (f) => f.node)) {
    const outcome = { failed: null as string | null };
    const batcher = new NodeBatcher(em, {
      node,
      commit: 'bench',
      batchSize: settings.batchSize,
      knownUsers,
      lane,
      outcome,
      onBatch: () => {},
    });
    for (const f of files) await batcher.add(f.path, f.blobSha, f.parsed);
    await batcher.flush();
    await lane.enqueue(node, async () => {
      if (outcome.failed) failures.push(`${node}: ${outcome.failed}`);
    });
  }
  await lane.drain();
  problems.push(...failures.map((f) => `apply: ${f}`));
  const applyMs = performance.now() - started;
  step(`apply phase: ${(applyMs / 1000).toFixed(2)}s`);
  problems.push(...(await checkDebits(sql, gen.expected, gen.records)).map((p) => `apply: ${p}`));

  // 3. Naive baseline on a sample.
  await resetUsage(sql);
  const sample: ParsedFile[] = [];
  let sampled = 0;
  for (const f of parsedFiles) {
    if (sampled >= settings.naiveSample) break;
    const records = f.parsed.records.slice(0, settings.naiveSample - sampled);
    sampled += records.length;
    sample.push({ ...f, parsed: { records, rejected: [] } });
  }
  started = performance.now();
  for (const f of sample) await naiveApply(sql, f.node, f.path, f.parsed.records);
  const naiveMs = performance.now() - started;
  step(`naive: ${fmt(sampled)} records in ${(naiveMs / 1000).toFixed(2)}s`);

  // 4. COPY into an unindexed table.
  await resetUsage(sql);
  started = performance.now();
  await copyRows(sql, parsedFiles);
  const copyMs = performance.now() - started;
  const [{ n: copied }] = (await sql.query<{ n: number }>('select count(*)::int as n from usage_copy')).rows;
  if (copied !== gen.records) problems.push(`copy: ${copied} rows, expected ${gen.records}`);
  step(`copy: ${fmt(copied)} rows in ${(copyMs / 1000).toFixed(2)}s`);

  const e2e = rate(gen.records, endToEndMs);
  const apply = rate(gen.records, applyMs);
  const naive = rate(sampled, naiveMs);
  const copy = rate(gen.records, copyMs);
  console.log('');
  console.log(
    `aggregation of ${fmt(gen.records)} records (${settings.nodes} nodes, ${settings.files} files, batch ${settings.batchSize})`,
  );
  const rows: [string, number, number][] = [
    ['end to end (git → balances)', gen.records, e2e],
    ['apply phase alone', gen.records, apply],
    ['parse + validate alone', gen.records, rate(gen.records, parseMs)],
    [`naive, 1 record per transaction`, sampled, naive],
    ['COPY into an unindexed table', gen.records, copy],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`${'path'.padEnd(w)}  ${'records'.padStart(9)}  ${'records/s'.padStart(10)}`);
  console.log(`${'-'.repeat(w)}  ${'-'.repeat(9)}  ${'-'.repeat(10)}`);
  for (const [label, n, r] of rows)
    console.log(`${label.padEnd(w)}  ${fmt(n).padStart(9)}  ${fmt(r).padStart(10)}`);
  console.log('');
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  console.log(
    `${verdict(e2e >= TARGET_END_TO_END)}: end to end ${fmt(e2e)} records/s (target >= ${fmt(TARGET_END_TO_END)})`,
  );
  console.log(
    `${verdict(apply / naive >= TARGET_VS_NAIVE)}: apply / naive = ${(apply / naive).toFixed(1)}x (target >= ${TARGET_VS_NAIVE}x)`,
  );
  console.log(
    `${verdict(apply / copy >= TARGET_VS_COPY)}: apply / COPY = ${((apply / copy) * 100).toFixed(0)}% (target >= ${TARGET_VS_COPY * 100}%)`,
  );
  if (problems.length > 0) {
    console.error('\nCORRECTNESS CHECKS FAILED:');
    for (const p of problems) console.error(`  - ${p}`);
    return 1;
  }
  console.log(
    'correctness: every balance debited by exactly its records and equal to the sum of its ledger; no key applied twice',
  );
  return 0;
}

runBench(main);
