import { performance } from 'node:perf_hooks';
import {
  AUTO_RELEASE_JOB,
  type AutoReleaseSummary,
  autoRelease,
  DEFAULT_AUTO_RELEASE_BATCH_SIZE,
} from '@hero/core/allocation/auto-release';
import { DEFAULT_EXPIRY_WARNING_HOURS } from '@hero/core/allocation/expiry';
import { migrate } from '@hero/core/db/migrate';
import { createOrm, type MikroORM } from '@hero/core/db/orm';
import { type JobOutcome, runWithJobLock } from '@hero/core/jobs/run-with-job-lock';
import { VM_RELEASE_TOPIC } from '@hero/core/outbox/enqueue';
import { provisionerNamed } from '@hero/core/provisioners/registry';
import pg from 'pg';
import { adminQuery, dropDatabase, quoteIdent, withDatabase } from '../lib/postgres.ts';
import { type BenchCleanup, intEnv, resolvePgServer, runBench } from './common.ts';

const TARGET_RATIO = 1.5;
const USERS = 1000;
/** What the worker runs with by default. */
const BATCH_SIZE = DEFAULT_AUTO_RELEASE_BATCH_SIZE;
const EXPIRY_WARNING_HOURS = DEFAULT_EXPIRY_WARNING_HOURS;

// ---------------------------------------------------------------------------------------------
// Settings

function percentEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 100) {
    throw new Error(`${name} must be a number from 0 to 100 (got "${raw}")`);
  }
  return value;
}

interface Settings {
  smallTotal: number;
  largeTotal: number;
  expired: number;
  activePercent: number;
  repeats: number;
}

function loadSettings(): Settings {
  const expired = intEnv('BENCH_EXPIRED', 1000, 1);
  return {
    smallTotal: intEnv('BENCH_SMALL_TOTAL', 10_000, expired),
    largeTotal: intEnv('BENCH_LARGE_TOTAL', 1_000_000, expired),
    expired,
    activePercent: percentEnv('BENCH_ACTIVE_PERCENT', 10),
    repeats: intEnv('BENCH_REPEATS', 3, 1),
  };
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL server

// ---------------------------------------------------------------------------------------------
// Scenarios

interface Mix {
  total: number;
  expired: number;
  activeFuture: number;
  released: number;
  poolVms: number;
}

function mixFor(total: number, settings: Settings): Mix {
  const filler = total - settings.expired;
  const activeFuture = Math.round((filler * settings.activePercent) / 100);
  return {
    total,
    expired: settings.expired,
    activeFuture,
    released: filler - activeFuture,
    poolVms: settings.expired + activeFuture,
  };
}

interface Scenario {
  label: string;
  mix: Mix;
  orm: MikroORM;
  sql: pg.Pool;
  /** The expired rows every measured tick releases, and their outbox dedupe keys. */
  expiredIds: string[];
  dedupeKeys: string[];
  tickMs: number[];
  emptyTickMs: number[];
  /** The statements of the measured release ticks, all repeats together. */
  profile: Recorder;
}

/**
 * Set-based seed. Pool VMs 1..expired hold the expired allocations, the next ones the ACTIVE
 * allocations expiring in 30 to 60 days; RELEASED history is spread over all pool VMs and
 * the two years before.
 */
/**
 * Runs `load` with the table's foreign keys, its indexes and its primary / unique constraints
 * that no foreign key references dropped, and re-creates them afterwards from their own
 * catalog definitions: one sort per index and one set-based check per foreign key instead of
 * a million random index inserts and trigger calls. Checks the schema is as it was after.
 */
async function withBulkLoad<T>(sql: pg.Pool, table: string, load: () => Promise<T>): Promise<T> {
  const schema = async () =>
    (
      await sql.query<{ item: string }>(
        `select 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) as item
           from pg_constraint where conrelid = $1::regclass
         union all
         select 'index ' || pg_get_indexdef(indexrelid) from pg_index where indrelid = $1::regclass
         order by 1`,
        [table],
      )
    ).rows.map((r) => r.item);
  const before = await schema();
  const constraints = (
    await sql.query<{ name: string; def: string; kind: string }>(
      `select conname as name, pg_get_constraintdef(oid) as def, contype as kind
         from pg_constraint c
        where conrelid = $1::regclass
          and (contype = 'f'
               or (contype in ('p', 'u')
                   and not exists (select 1 from pg_constraint r where r.contype = 'f' and r.conindid = c.conindid)))`,
      [table],
    )
  ).rows;
  const indexes = (
    await sql.query<{ name: string; def: string }>(
      `select c.relname as name, pg_get_indexdef(i.indexrelid) as def
         from pg_index i join pg_class c on c.oid = i.indexrelid
        where i.indrelid = $1::regclass
          and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid and k.conrelid = i.indrelid)`,
      [table],
    )
  ).rows;
  const foreignKeys = constraints.filter((c) => c.kind === 'f');
  const keys = constraints.filter((c) => c.kind !== 'f');
  const alter = (clause: string) => sql.query(`alter table ${quoteIdent(table)} ${clause}`);
  for (const c of [...foreignKeys, ...keys]) await alter(`drop constraint ${quoteIdent(c.name)}`);
  for (const i of indexes) await sql.query(`drop index ${quoteIdent(i.name)}`);
  const result = await load();
  for (const c of keys) await alter(`add constraint ${quoteIdent(c.name)} ${c.def}`);
  for (const i of indexes) await sql.query(i.def);
  for (const c of foreignKeys) await alter(`add constraint ${quoteIdent(c.name)} ${c.def}`);
  const after = await schema();
  if (after.join('\n') !== before.join('\n')) {
    throw new Error(
      `bulk load changed the schema of ${table}:\n${before.join('\n')}\n---\n${after.join('\n')}`,
    );
  }
  return result;
}

async function seed(sql: pg.Pool, mix: Mix): Promise<string[]> {
  const quota = Math.max(1, Math.ceil(mix.poolVms / USERS));
  await sql.query(
    `insert into users (email, display_name, vm_quota)
     select 'bench-' || g || '@example.test', 'Bench user ' || g, $2
       from generate_series(1, $1) g`,
    [USERS, quota],
  );
  await sql.query(
    `insert into billing (user_id, credit_balance_cents, currency) select id, 0, 'EUR' from users`,
  );
  await sql.query(
    `insert into pool_vm (id, name, host, status, cockpit_url)
     select 'bench-vm-' || lpad(g::text, 8, '0'), 'bench-vm-' || g,
            '10.' || (g / 65536) % 256 || '.' || (g / 256) % 256 || '.' || g % 256, 'AVAILABLE',
            'https://bench-vm-' || g || '.example.test:9090/'
       from generate_series(1, $1) g`,
    [mix.poolVms],
  );
  // Users by number (0-based), to spread allocations over them.
  const usersByNumber = '(select id, (row_number() over (order by id) - 1)::int as n from users)';
  const vmId = (expr: string) => `'bench-vm-' || lpad((${expr})::text, 8, '0')`;
  const expired = await withBulkLoad(sql, 'vm_allocation', async () => {
    // RELEASED history: allocated one minute apart going back from 40 days ago, held up to 30
    // days, released by the user, an admin, or on expiry.
    await sql.query(
      `insert into vm_allocation
       (user_id, pool_vm_id, provisioner, status, allocated_at, expires_at, released_at, release_reason, cockpit_url)
     select u.id, ${vmId('(g - 1) % $2 + 1')}, 'pool', 'RELEASED',
            h.allocated_at, h.allocated_at + interval '30 days',
            h.allocated_at + interval '1 minute' * (g::bigint * 7919 % 43200),
            (array['USER', 'ADMIN', 'EXPIRED'])[g % 3 + 1],
            'https://bench-vm-' || ((g - 1) % $2 + 1) || '.example.test:9090/'
       from generate_series(1, $1) g
       cross join lateral (select now() - interval '40 days' - interval '1 minute' * g as allocated_at) h
       join ${usersByNumber} u on u.n = g % ${USERS}`,
      [mix.released, mix.poolVms],
    );
    // ACTIVE, expiring 30 to 60 days from now: outside the expiry-warning window.
    await sql.query(
      `insert into vm_allocation (user_id, pool_vm_id, provisioner, status, allocated_at, expires_at, cockpit_url)
     select u.id, ${vmId('$2 + g')}, 'pool', 'ACTIVE',
            now() - interval '1 minute' * (g % 43200),
            now() + interval '30 days' + interval '1 minute' * (g::bigint * 7919 % 43200),
            'https://bench-vm-' || ($2 + g) || '.example.test:9090/'
       from generate_series(1, $1) g
       join ${usersByNumber} u on u.n = g % ${USERS}`,
      [mix.activeFuture, mix.expired],
    );
    // Expired: one minute apart, the newest one minute ago.
    return sql.query<{ id: string }>(
      `insert into vm_allocation (user_id, pool_vm_id, provisioner, status, allocated_at, expires_at, cockpit_url)
     select u.id, ${vmId('g')}, 'pool', 'ACTIVE',
            now() - interval '30 days' - interval '1 minute' * g,
            now() - interval '1 minute' * g,
            'https://bench-vm-' || g || '.example.test:9090/'
       from generate_series(1, $1) g
       join ${usersByNumber} u on u.n = g % ${USERS}
     returning id`,
      [mix.expired],
    );
  });
  await sql.query(
    `update pool_vm p set active_allocation_id = a.id
       from vm_allocation a where a.pool_vm_id = p.id and a.status = 'ACTIVE'`,
  );
  await sql.query('vacuum analyze');
  return expired.rows.map((r) => r.id);
}

/** The expired rows back to how the seed left them: ACTIVE, their VM held, no outbox row. */
async function reExpire(s: Scenario): Promise<void> {
  await s.sql.query(
    `update vm_allocation set status = 'ACTIVE', released_at = null, release_reason = null
      where id = any($1::uuid[])`,
    [s.expiredIds],
  );
  await s.sql.query(
    `update pool_vm p set active_allocation_id = a.id, updated_at = now()
       from vm_allocation a where a.id = any($1::uuid[]) and p.id = a.pool_vm_id`,
    [s.expiredIds],
  );
  await s.sql.query('delete from outbox where dedupe_key = any($1::text[])', [s.dedupeKeys]);
  await s.sql.query('vacuum analyze vm_allocation, pool_vm, outbox');
}

/** One tick, as the worker runs it. */
function tick(orm: MikroORM): Promise<JobOutcome<AutoReleaseSummary>> {
  return runWithJobLock(orm.em, { job: AUTO_RELEASE_JOB, trigger: 'MANUAL' }, (em) =>
    autoRelease(em, {
      provisionerFor: (name) => provisionerNamed(name),
      batchSize: BATCH_SIZE,
      expiryWarningHours: EXPIRY_WARNING_HOURS,
    }),
  );
}

async function timedTick(orm: MikroORM): Promise<{ ms: number; outcome: JobOutcome<AutoReleaseSummary> }> {
  const started = performance.now();
  const outcome = await tick(orm);
  return { ms: performance.now() - started, outcome };
}

async function dbNow(sql: pg.Pool): Promise<Date> {
  return (await sql.query<{ now: Date }>('select clock_timestamp() as now')).rows[0].now;
}

/** Correctness of a tick that should have released every expired row: the problems found. */
async function checkReleaseTick(
  s: Scenario,
  outcome: JobOutcome<AutoReleaseSummary>,
  since: Date,
): Promise<string[]> {
  const problems: string[] = [];
  const n = s.mix.expired;
  if (outcome.status !== 'SUCCEEDED') {
    return [`tick ${outcome.status}${outcome.error ? `: ${outcome.error}` : ''}`];
  }
  const sum = outcome.summary;
  if (sum.rowsReleased !== n) problems.push(`rowsReleased ${sum.rowsReleased}, expected ${n}`);
  if (sum.rowsExamined !== n) problems.push(`rowsExamined ${sum.rowsExamined}, expected ${n}`);
  if (sum.rowsAlreadyReleased !== 0) problems.push(`rowsAlreadyReleased ${sum.rowsAlreadyReleased}`);
  if (sum.expiryWarnings !== 0) problems.push(`expiryWarnings ${sum.expiryWarnings}, expected 0`);
  for (const e of sum.errors.slice(0, 5)) problems.push(`error: ${e}`);
  if (sum.errors.length > 5) problems.push(`…and ${sum.errors.length - 5} more errors`);

  const [c] = (
    await s.sql.query<{
      ours: number;
      released_since: number;
      still_expired: number;
      active: number;
      held: number;
      outbox_ours: number;
      outbox_release: number;
    }>(
      `select (select count(*)::int from vm_allocation where id = any($1::uuid[])
                 and status = 'RELEASED' and release_reason = 'EXPIRED' and released_at >= $3) as ours,
              (select count(*)::int from vm_allocation where released_at >= $3) as released_since,
              (select count(*)::int from vm_allocation where status = 'ACTIVE' and expires_at < now()) as still_expired,
              (select count(*)::int from vm_allocation where status = 'ACTIVE') as active,
              (select count(*)::int from pool_vm where active_allocation_id = any($1::uuid[])) as held,
              (select count(*)::int from outbox where topic = $4 and status = 'PENDING'
                 and dedupe_key = any($2::text[])) as outbox_ours,
              (select count(*)::int from outbox where topic = $4) as outbox_release`,
      [s.expiredIds, s.dedupeKeys, since, VM_RELEASE_TOPIC],
    )
  ).rows;
  if (c.ours !== n) problems.push(`${c.ours} of the ${n} expired rows are RELEASED with reason EXPIRED`);
  if (c.released_since !== n) problems.push(`${c.released_since} rows released by the tick, expected ${n}`);
  if (c.still_expired !== 0) problems.push(`${c.still_expired} expired rows still ACTIVE`);
  if (c.active !== s.mix.activeFuture)
    problems.push(`${c.active} ACTIVE rows left, expected ${s.mix.activeFuture}`);
  if (c.held !== 0) problems.push(`${c.held} pool VMs still held by a released allocation`);
  if (c.outbox_ours !== n || c.outbox_release !== n)
    problems.push(
      `${c.outbox_ours} pending ${VM_RELEASE_TOPIC} outbox rows for the released rows (${c.outbox_release} in all), expected ${n}`,
    );
  return problems;
}

function checkEmptyTick(outcome: JobOutcome<AutoReleaseSummary>): string[] {
  if (outcome.status !== 'SUCCEEDED') {
    return [`empty tick ${outcome.status}${outcome.error ? `: ${outcome.error}` : ''}`];
  }
  const sum = outcome.summary;
  const problems: string[] = [];
  if (sum.rowsExamined !== 0 || sum.rowsReleased !== 0 || sum.expiryWarnings !== 0) {
    problems.push(
      `empty tick examined ${sum.rowsExamined}, released ${sum.rowsReleased}, warned ${sum.expiryWarnings}; expected 0`,
    );
  }
  for (const e of sum.errors.slice(0, 5)) problems.push(`empty tick error: ${e}`);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Where a tick's time goes, and the scan query as the tick sent it

interface StatementStats {
  calls: number;
  ms: number;
}

interface SentStatement {
  text: string;
  values: unknown[];
}

interface Recorder {
  /** Per statement shape (literals and placeholders replaced by `?`). */
  statements: Map<string, StatementStats>;
  /** The first statements sent, as sent. */
  first: SentStatement[];
}

const FIRST_KEPT = 50;
let recorder: Recorder | null = null;

const normalize = (text: string) =>
  text
    .replace(/'(?:[^']|'')*'/g, '?')
    .replace(/\$\d+/g, '?')
    .replace(/\b\d+(?:\.\d+)?\b/g, '?')
    .replace(/\s+/g, ' ')
    .trim();

/**
 * Times every statement a `pg` client sends while a recorder is set, from the call to its
 * answer: round trip plus server time, as this process sees it. The ORM's pool and this bench
 * share the `pg` module, so this sees what a tick sends.
 */
function installStatementRecorder(): void {
  type Query = (this: pg.Client, ...args: unknown[]) => unknown;
  const proto = pg.Client.prototype as unknown as { query: Query };
  const original = proto.query;
  proto.query = function (this: pg.Client, ...args: unknown[]) {
    const active = recorder;
    if (!active) return original.apply(this, args);
    const first = args[0];
    const config =
      typeof first === 'object' && first !== null ? (first as { text?: unknown; values?: unknown }) : {};
    const text = typeof first === 'string' ? first : typeof config.text === 'string' ? config.text : null;
    const values = typeof first === 'string' ? args[1] : config.values;
    const started = performance.now();
    const result = original.apply(this, args);
    if (text === null || !(result instanceof Promise)) return result;
    if (active.first.length < FIRST_KEPT) {
      active.first.push({ text, values: Array.isArray(values) ? values : [] });
    }
    const done = () => {
      const key = normalize(text);
      const stats = active.statements.get(key) ?? { calls: 0, ms: 0 };
      stats.calls++;
      stats.ms += performance.now() - started;
      active.statements.set(key, stats);
    };
    result.then(done, done);
    return result;
  };
}

async function recorded<T>(target: Recorder, run: () => Promise<T>): Promise<T> {
  recorder = target;
  try {
    return await run();
  } finally {
    recorder = null;
  }
}

const newRecorder = (): Recorder => ({ statements: new Map(), first: [] });

/** The scan: the first statement reading vm_allocation in expires_at order, with a limit. */
function findScan(sent: SentStatement[]): SentStatement | null {
  return (
    sent.find(
      (st) =>
        /\bfrom\s+"?vm_allocation"?/i.test(st.text) &&
        /order by/i.test(st.text) &&
        /\blimit\b/i.test(st.text),
    ) ?? null
  );
}

/** What the bench explains when no scan was seen (the scan as auto-release.ts wrote it). */
const FALLBACK_SCAN: SentStatement = {
  text: `select id, provisioner, expires_at::text as expires_at from vm_allocation
          where status = 'ACTIVE' and expires_at < now()
          order by expires_at, id limit ${BATCH_SIZE}`,
  values: [],
};

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  'Sort Key'?: string[];
  'Actual Rows'?: number;
  'Workers Launched'?: number;
  Plans?: PlanNode[];
}

/**
 * A statement's plan on one line: node chain with index, sort key and rows; execution time.
 * `activeIndexes`: the partial indexes on ACTIVE rows (`where status = 'ACTIVE'`) it read.
 */
async function explainLine(
  sql: pg.Pool,
  statement: SentStatement,
): Promise<{ line: string; activeIndexes: string[]; seqScan: boolean }> {
  const rows = await sql.query<{ 'QUERY PLAN': [{ Plan: PlanNode; 'Execution Time': number }] }>(
    `explain (analyze, format json) ${statement.text}`,
    statement.values,
  );
  const [{ Plan: plan, 'Execution Time': executionMs }] = rows.rows[0]['QUERY PLAN'];
  const parts: string[] = [];
  const indexes = new Set<string>();
  let seqScan = false;
  const walk = (node: PlanNode) => {
    let part = node['Node Type'];
    if (node['Index Name']) part += ` using ${node['Index Name']}`;
    else if (node['Relation Name']) part += ` on ${node['Relation Name']}`;
    if (node['Sort Key']) part += ` by ${node['Sort Key'].join(', ')}`;
    if (node['Workers Launched'] !== undefined) part += ` [${node['Workers Launched']} workers]`;
    if (node['Index Name']) indexes.add(node['Index Name']);
    if (node['Node Type'].includes('Seq Scan') && node['Relation Name'] === 'vm_allocation') seqScan = true;
    part += ` (rows ${node['Actual Rows'] ?? '?'})`;
    parts.push(part);
    for (const child of node.Plans ?? []) walk(child);
  };
  walk(plan);
  const partial = await sql.query<{ name: string }>(
    `select c.relname as name from pg_index i join pg_class c on c.oid = i.indexrelid
      where c.relname = any($1::text[]) and i.indrelid = 'vm_allocation'::regclass
        and pg_get_expr(i.indpred, i.indrelid) ~ $2`,
    [[...indexes], "status = 'ACTIVE'"],
  );
  return {
    line: `${parts.join(' -> ')}; execution ${executionMs.toFixed(2)} ms`,
    activeIndexes: partial.rows.map((r) => r.name),
    seqScan,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const fmtInt = (n: number) => n.toLocaleString('en-US');

function printTable(scenarios: Scenario[]): void {
  const header = [
    'total rows',
    'expired',
    'tick ms (median)',
    'min',
    'max',
    'ms / expired row',
    'empty tick ms',
  ];
  const lines = scenarios.map((s) => {
    const m = median(s.tickMs);
    return [
      fmtInt(s.mix.total),
      fmtInt(s.mix.expired),
      m.toFixed(1),
      Math.min(...s.tickMs).toFixed(1),
      Math.max(...s.tickMs).toFixed(1),
      (m / s.mix.expired).toFixed(3),
      median(s.emptyTickMs).toFixed(1),
    ];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c].length)));
  const fmt = (cells: string[]) => cells.map((cell, c) => cell.padStart(widths[c])).join('  ');
  console.log(fmt(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const line of lines) console.log(fmt(line));
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** The statements of the measured ticks that took the most time on the large table, per tick. */
function printProfile(small: Scenario, large: Scenario, repeats: number, top = 8): void {
  const perTick = (st: StatementStats | undefined) => (st ? st.ms / repeats : 0);
  const keys = new Set([...small.profile.statements.keys(), ...large.profile.statements.keys()]);
  const rows = [...keys]
    .map((key) => ({
      key,
      small: small.profile.statements.get(key),
      large: large.profile.statements.get(key),
    }))
    .sort((a, b) => perTick(b.large) - perTick(a.large))
    .slice(0, top);
  const header = [
    'calls/tick',
    'small ms/tick',
    'large ms/tick',
    'small ms/call',
    'large ms/call',
    'statement',
  ];
  const lines = rows.map((r) => {
    const calls = (r.large?.calls ?? r.small?.calls ?? 0) / repeats;
    const perCall = (st: StatementStats | undefined) => (st ? (st.ms / st.calls).toFixed(3) : '-');
    const text = r.key.length > 100 ? `${r.key.slice(0, 99)}…` : r.key;
    return [
      fmtInt(Math.round(calls)),
      perTick(r.small).toFixed(1),
      perTick(r.large).toFixed(1),
      perCall(r.small),
      perCall(r.large),
      text,
    ];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c].length)));
  const last = header.length - 1;
  const fmt = (cells: string[]) =>
    cells.map((cell, c) => (c === last ? cell : cell.padStart(widths[c]))).join('  ');
  console.log(fmt(header));
  console.log(widths.map((w, c) => '-'.repeat(c === last ? header[c].length : w)).join('  '));
  for (const line of lines) console.log(fmt(line));
  const sqlMs = (sc: Scenario) =>
    [...sc.profile.statements.values()].reduce((a, st) => a + st.ms, 0) / repeats;
  const statements = (sc: Scenario) =>
    [...sc.profile.statements.values()].reduce((a, st) => a + st.calls, 0) / repeats;
  console.log(
    `SQL per tick (means): small ${fmtInt(Math.round(statements(small)))} statements, ${sqlMs(small).toFixed(0)} of ${mean(small.tickMs).toFixed(0)} ms; ` +
      `large ${fmtInt(Math.round(statements(large)))} statements, ${sqlMs(large).toFixed(0)} of ${mean(large.tickMs).toFixed(0)} ms ` +
      '(the rest is this process: ORM and JS)',
  );
}

// ---------------------------------------------------------------------------------------------

async function main(cleanup: BenchCleanup): Promise<number> {
  const settings = loadSettings();
  installStatementRecorder();
  const step = (label: string) => console.log(`· ${label}`);
  const server = await resolvePgServer();
  cleanup.deferServerStop(server.stop);
  step(`PostgreSQL: ${server.description}`);

  const stamp = Date.now();
  const scenarios: Scenario[] = [];
  for (const [label, total] of [
    ['small', settings.smallTotal],
    ['large', settings.largeTotal],
  ] as const) {
    const started = performance.now();
    const mix = mixFor(total, settings);
    if (cleanup.interrupted) throw new Error('interrupted');
    const dbName = `hero_bench_auto_release_${label}_${stamp}`;
    await adminQuery(server.adminUrl, `create database ${quoteIdent(dbName)}`);
    cleanup.deferDrop(() => dropDatabase(server.adminUrl, dbName));
    const databaseUrl = withDatabase(server.adminUrl, dbName);
    const orm = await createOrm({ databaseUrl, poolMax: 4 });
    cleanup.defer(() => orm.close(true));
    await migrate(orm);
    const sql = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    // Idle connections ended by a drop on interrupt must not crash the process.
    sql.on('error', () => {});
    cleanup.defer(() => sql.end());
    const expiredIds = await seed(sql, mix);
    scenarios.push({
      label,
      mix,
      orm,
      sql,
      expiredIds,
      dedupeKeys: expiredIds.map((id) => `${VM_RELEASE_TOPIC}:${id}`),
      tickMs: [],
      emptyTickMs: [],
      profile: newRecorder(),
    });
    step(
      `${label}: database ${dbName}, ${fmtInt(total)} vm_allocation rows seeded in ${((performance.now() - started) / 1000).toFixed(1)}s`,
    );
  }
  const [small, large] = scenarios;
  const m = small.mix;
  step(
    `seed mix: ${fmtInt(settings.expired)} expired ACTIVE rows (provisioner pool, expired 1 to ${fmtInt(settings.expired)} minutes ago); ` +
      `the rest ${100 - settings.activePercent}% RELEASED history (reasons USER/ADMIN/EXPIRED), ` +
      `${settings.activePercent}% ACTIVE expiring in 30-60 days; ${fmtInt(USERS)} users; one pool VM per ACTIVE row ` +
      `(small: ${fmtInt(m.released)} RELEASED + ${fmtInt(m.activeFuture)} ACTIVE-future, ${fmtInt(m.poolVms)} pool VMs; ` +
      `large: ${fmtInt(large.mix.released)} RELEASED + ${fmtInt(large.mix.activeFuture)} ACTIVE-future, ${fmtInt(large.mix.poolVms)} pool VMs)`,
  );
  step(
    `tick: runWithJobLock(job ${AUTO_RELEASE_JOB}) + autoRelease(batchSize ${BATCH_SIZE}, expiryWarningHours ${EXPIRY_WARNING_HOURS}), ` +
      `${settings.repeats} measured ticks per scenario (interleaved, after one unmeasured warm-up tick), ` +
      `each followed by an empty tick`,
  );

  const problems: string[] = [];
  // Warm-up: the first tick of the process pays for module and ORM metadata warm-up.
  {
    const since = await dbNow(small.sql);
    const { outcome } = await timedTick(small.orm);
    problems.push(...(await checkReleaseTick(small, outcome, since)).map((p) => `warm-up: ${p}`));
    await reExpire(small);
  }
  for (let r = 1; r <= settings.repeats; r++) {
    for (const s of scenarios) {
      if (r > 1) await reExpire(s);
      const since = await dbNow(s.sql);
      const release = await recorded(s.profile, () => timedTick(s.orm));
      s.tickMs.push(release.ms);
      problems.push(
        ...(await checkReleaseTick(s, release.outcome, since)).map((p) => `${s.label} tick ${r}: ${p}`),
      );
      const empty = await timedTick(s.orm);
      s.emptyTickMs.push(empty.ms);
      problems.push(...checkEmptyTick(empty.outcome).map((p) => `${s.label} tick ${r}: ${p}`));
      step(
        `${s.label} tick ${r}: ${release.ms.toFixed(1)} ms releasing ${fmtInt(s.mix.expired)}, empty tick ${empty.ms.toFixed(1)} ms`,
      );
    }
  }

  // The scan as the large tick sent it, explained with the expired rows back in place.
  await reExpire(large);
  const captured = findScan(large.profile.first);
  const explain = await explainLine(large.sql, captured ?? FALLBACK_SCAN);

  const ratio = median(large.tickMs) / median(small.tickMs);
  console.log('');
  console.log(
    `auto-release tick, ${fmtInt(settings.expired)} expired rows, median of ${settings.repeats} ` +
      `(mix: ${100 - settings.activePercent}% RELEASED / ${settings.activePercent}% ACTIVE-future filler)`,
  );
  printTable(scenarios);
  console.log(`ratio (${fmtInt(large.mix.total)} / ${fmtInt(small.mix.total)}): ${ratio.toFixed(2)}x`);
  console.log(`${ratio <= TARGET_RATIO ? 'PASS' : 'FAIL'}: target at most ${TARGET_RATIO}x`);
  console.log('');
  console.log(
    `scan query plan, ${captured ? 'as the tick sent it' : "bench's copy (the tick's scan was not recognised)"}, ` +
      `${fmtInt(large.mix.total)} rows, ${fmtInt(settings.expired)} expired: ${explain.line}` +
      (explain.activeIndexes.length > 0 && !explain.seqScan
        ? ''
        : '  [NOT read through a partial index on ACTIVE rows: the scan follows the table size]'),
  );
  console.log('');
  console.log("where a tick's time goes: statements sent, timed per round trip from this process");
  printProfile(small, large, settings.repeats);
  console.log('');

  if (problems.length > 0) {
    console.error('\nCORRECTNESS CHECKS FAILED:');
    for (const p of problems.slice(0, 30)) console.error(`  - ${p}`);
    if (problems.length > 30) console.error(`  - …and ${problems.length - 30} more`);
    return 1;
  }
  console.log(
    `correctness: every tick released exactly the ${fmtInt(settings.expired)} expired rows (reason EXPIRED, ` +
      `pool VM freed, one ${VM_RELEASE_TOPIC} outbox row each) without errors; every empty tick released nothing`,
  );
  return 0;
}

runBench(main);
