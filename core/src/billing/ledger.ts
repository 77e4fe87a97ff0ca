import type { EntityManager } from '@mikro-orm/postgresql';
import type { PoolClient } from 'pg';
import { z } from 'zod';
import { firstRow, rows, sql } from '../db/sql.ts';
import { Billing } from '../entities/billing.entity.ts';
import { LedgerEntry, type LedgerKind } from '../entities/ledger-entry.entity.ts';
import type { User } from '../entities/user.entity.ts';
import { NotFoundError, type Problem, parseInput, ValidationError } from '../errors.ts';
import { isUuid } from '../lib/ids.ts';

/**
 * The one way a balance changes: `billing.credit_balance_cents` moves by `amountCents` and a
 * ledger row with the balance after it is appended, in one statement of the caller's
 * transaction. The update takes the billing row's lock, so the rows of one user are appended in
 * the order their changes happened and each `balanceAfterCents` follows from the one before.
 * `postUsageDebits` does the same set-based for a whole usage batch. This module is the only
 * writer of `billing` balances and of `ledger_entry`.
 */
export interface LedgerPosting {
  userId: string;
  kind: LedgerKind;
  /** Signed: a credit is positive, a debit negative. */
  amountCents: number;
  /** What it belongs to (payment id, plan purchase id, …). */
  reference?: string | null;
  note?: string | null;
}

export interface PostedEntry {
  id: number;
  balanceAfterCents: number;
  currency: string;
}

/** A balance's currency: an ISO 4217 code, stored upper-case (any case accepted). */
export const currencyCode = z
  .string()
  .trim()
  .regex(/^[A-Za-z]{3}$/, 'must be a three-letter ISO 4217 code, e.g. EUR')
  .transform((c) => c.toUpperCase());

/**
 * Opens a new user's billing account, balance 0, in the caller's unit of work (it is inserted
 * with the user on the next flush).
 */
export function openBillingAccount(tx: EntityManager, user: User, currency: string): Billing {
  const parsed = parseInput(z.object({ currency: currencyCode }), { currency }, 'Invalid currency');
  return tx.create(Billing, { user, creditBalanceCents: 0, currency: parsed.currency });
}

/** Posts within the caller's transaction; null when the user has no billing row. */
export async function postLedgerEntry(
  tx: EntityManager,
  posting: LedgerPosting,
): Promise<PostedEntry | null> {
  if (!Number.isSafeInteger(posting.amountCents)) {
    throw new Error(`ledger amount must be a whole number of cents, got ${posting.amountCents}`);
  }
  const row = await firstRow(
    tx,
    sql<{ id: string; balance_after_cents: string; currency: string }>`
      with moved as (
        update billing set credit_balance_cents = credit_balance_cents + ${posting.amountCents}, updated_at = now()
         where user_id = ${posting.userId}
        returning user_id, credit_balance_cents, currency
      )
      insert into ledger_entry (user_id, kind, amount_cents, balance_after_cents, currency, reference, note)
      select user_id, ${posting.kind}, ${posting.amountCents}, credit_balance_cents, currency,
             ${posting.reference ?? null}, ${posting.note ?? null}
        from moved
      returning id, balance_after_cents, currency`,
  );
  if (!row) return null;
  return { id: Number(row.id), balanceAfterCents: Number(row.balance_after_cents), currency: row.currency };
}

/** The user's billing row, locked for the rest of the transaction; null if there is none. */
export async function lockBilling(
  tx: EntityManager,
  userId: string,
): Promise<{ balanceCents: number; currency: string } | null> {
  const row = await firstRow(
    tx,
    sql<{ credit_balance_cents: string; currency: string }>`
      select credit_balance_cents, currency from billing where user_id = ${userId} for no key update`,
  );
  return row ? { balanceCents: Number(row.credit_balance_cents), currency: row.currency } : null;
}

/** One usage batch's debits: parallel arrays, one entry per user (a user may repeat). */
export interface UsageDebits {
  /** The node the batch came from: the ledger rows' reference is `usage:<node>`. */
  node: string;
  users: string[];
  cents: bigint[];
  /** No debit may take a balance below this. */
  floorCents: bigint;
}

/**
 * Debits each user of a usage batch, with one USAGE ledger row per user and the balance after
 * it, on the aggregator batch's own native connection (its transaction: the consumed keys and
 * the debits commit together, and the batch stays one fast round of statements). Balances are
 * locked in user order first, so batches applied side by side wait for each other and never
 * deadlock. Answers the cents debited per balance currency. Throws when a user has no billing
 * row (a debit would be lost); `BELOW_FLOOR` when
 * a debit would take a balance below the floor: nothing is debited then, and the caller rolls
 * back.
 */
export async function postUsageDebits(
  client: PoolClient,
  debits: UsageDebits,
): Promise<{ debitedByCurrency: Map<string, bigint> } | 'BELOW_FLOOR'> {
  const res = await client.query<{ users: number; debited: number; by_currency: Record<string, string> }>(
    `with sums as (
       select user_id, sum(cents)::bigint as cents from unnest($1::uuid[], $2::bigint[]) as t(user_id, cents)
        group by user_id
     ), locked as (
       select b.user_id from billing b where b.user_id in (select user_id from sums)
        order by b.user_id for no key update
     ), debited as (
       update billing b set credit_balance_cents = b.credit_balance_cents - sums.cents, updated_at = now()
         -- count(*): every lock is taken (in order) before the first row is updated
         from sums where b.user_id = sums.user_id and (select count(*) from locked) >= 0
          and b.credit_balance_cents - sums.cents >= $4::bigint
       returning b.user_id, b.credit_balance_cents, b.currency, sums.cents
     ), ledger as (
       insert into ledger_entry (user_id, kind, amount_cents, balance_after_cents, currency, reference)
       select user_id, 'USAGE', -cents, credit_balance_cents, currency, $3 from debited
     )
     select (select count(*) from sums)::int as users, (select count(*) from debited)::int as debited,
            (select coalesce(json_object_agg(currency, cents), '{}') from
              (select currency, sum(cents)::text as cents from debited group by currency) c) as by_currency`,
    // Decimal strings: exact however large (a JS number would round past 2^53).
    [debits.users, debits.cents.map(String), `usage:${debits.node}`, String(debits.floorCents)],
  );
  if (res.rows[0].debited === res.rows[0].users) {
    return {
      debitedByCurrency: new Map(Object.entries(res.rows[0].by_currency).map(([c, n]) => [c, BigInt(n)])),
    };
  }
  const missing = await client.query<{ id: string }>(
    `select u::text as id from unnest($1::uuid[]) as u
      where not exists (select 1 from billing b where b.user_id = u) limit 5`,
    [debits.users],
  );
  if (missing.rows.length === 0) return 'BELOW_FLOOR';
  throw new Error(
    `no billing row for user ${missing.rows.map((r) => r.id).join(', ')}: the batch was not applied`,
  );
}

/**
 * The balances of `users`, locked (in user order, as postUsageDebits takes them) for the rest of
 * the native transaction; users without a billing row are absent.
 */
export async function lockBalances(client: PoolClient, users: string[]): Promise<Map<string, bigint>> {
  const res = await client.query<{ user_id: string; cents: string }>(
    `select user_id::text, credit_balance_cents::text as cents from billing
      where user_id = any($1::uuid[]) order by user_id for no key update`,
    [users],
  );
  return new Map(res.rows.map((r) => [r.user_id, BigInt(r.cents)]));
}

export interface BalanceDrift {
  userId: string;
  balanceCents: number;
  ledgerCents: number;
  /** balance − ledger sum. */
  driftCents: number;
}

export interface LedgerCheck {
  usersChecked: number;
  usersDrifted: number;
  /** Sum of |drift| over all users. */
  totalDriftCents: number;
  /** Ledger rows whose balanceAfterCents does not follow from the user's row before them. */
  chainBreaks: number;
  /** The first `limit` drifted users, largest drift first. */
  drifted: BalanceDrift[];
}

/**
 * Recomputes every balance from the ledger and compares, changing nothing: users whose balance
 * differs from the sum of their ledger rows, and rows whose running balance does not follow
 * from the row before (a lost or doubled row shows as both).
 */
export async function checkLedger(em: EntityManager, limit = 100): Promise<LedgerCheck> {
  const totals = await firstRow(
    em,
    sql<{ users: number; drifted: number; total_drift: string; chain_breaks: number }>`with sums as (
       select user_id, sum(amount_cents) as cents from ledger_entry group by user_id
     ), diff as (
       select b.user_id, b.credit_balance_cents - coalesce(s.cents, 0) as drift
         from billing b left join sums s on s.user_id = b.user_id
     ), chain as (
       select balance_after_cents - amount_cents
                is distinct from coalesce(lag(balance_after_cents) over w, 0) as broken
         from ledger_entry window w as (partition by user_id order by id)
     )
     select (select count(*)::int from diff) as users,
            (select count(*)::int from diff where drift <> 0) as drifted,
            (select coalesce(sum(abs(drift)), 0)::text from diff) as total_drift,
            (select count(*)::int from chain where broken) as chain_breaks`,
  );
  if (!totals) throw new Error('the ledger check returned no row');
  const drifted = await rows(
    em,
    sql<{
      user_id: string;
      balance: string;
      ledger: string;
      drift: string;
    }>`select b.user_id, b.credit_balance_cents::text as balance, coalesce(s.cents, 0)::text as ledger,
            (b.credit_balance_cents - coalesce(s.cents, 0))::text as drift
       from billing b
       left join (select user_id, sum(amount_cents) as cents from ledger_entry group by user_id) s
         on s.user_id = b.user_id
      where b.credit_balance_cents <> coalesce(s.cents, 0)
      order by abs(b.credit_balance_cents - coalesce(s.cents, 0)) desc, b.user_id
      limit ${limit}`,
  );
  return {
    usersChecked: totals.users,
    usersDrifted: totals.drifted,
    totalDriftCents: Number(totals.total_drift),
    chainBreaks: totals.chain_breaks,
    drifted: drifted.map((r) => ({
      userId: r.user_id,
      balanceCents: Number(r.balance),
      ledgerCents: Number(r.ledger),
      driftCents: Number(r.drift),
    })),
  };
}

export interface UsageDrift {
  userId: string;
  /** What the user's USAGE ledger rows debited (a positive amount). */
  ledgerUsageCents: number;
  /** The sum of the user's consumed usage records' cost. */
  consumedCents: number;
  /** ledger usage − consumed. */
  driftCents: number;
}

export interface UsageLedgerCheck {
  /** Users with usage on the ledger or consumed records. */
  usageUsersChecked: number;
  /** Users whose usage debits on the ledger differ from the sum of their consumed records. */
  usageUsersDrifted: number;
  /** Sum of |drift| over all users. */
  usageTotalDriftCents: number;
  /** The first `limit` of them, largest drift first. */
  usageDrifted: UsageDrift[];
}

/**
 * Compares, per user, what the aggregator debited on the ledger (USAGE rows) with the cost of
 * the usage records it consumed: every consumed record is debited exactly once, so the two
 * must be equal to the cent. Sums in SQL numeric (exact at any size); changes nothing.
 */
export async function checkUsageLedger(em: EntityManager, limit = 100): Promise<UsageLedgerCheck> {
  const found = await rows(
    em,
    sql<{
      users: number;
      drifted: number;
      total_drift: string;
      user_id: string | null;
      ledger: string | null;
      consumed: string | null;
      drift: string | null;
    }>`with ledger as (
       select user_id, -sum(amount_cents) as cents from ledger_entry where kind = 'USAGE' group by user_id
     ), consumed as (
       select user_id, sum(cost_cents) as cents from consumed_record group by user_id
     ), diff as (
       select coalesce(l.user_id, c.user_id) as user_id, coalesce(l.cents, 0) as ledger,
              coalesce(c.cents, 0) as consumed, coalesce(l.cents, 0) - coalesce(c.cents, 0) as drift
         from ledger l full join consumed c on c.user_id = l.user_id
     ), totals as (
       select count(*)::int as users, (count(*) filter (where drift <> 0))::int as drifted,
              coalesce(sum(abs(drift)), 0)::text as total_drift
         from diff
     ), listed as (
       select user_id::text, ledger::text, consumed::text, drift::text, abs(drift) as size
         from diff where drift <> 0 order by abs(drift) desc, user_id limit ${limit}
     )
     select t.users, t.drifted, t.total_drift, l.user_id, l.ledger, l.consumed, l.drift
       from totals t left join listed l on true
      order by l.size desc nulls last, l.user_id`,
  );
  const [first] = found;
  return {
    usageUsersChecked: first?.users ?? 0,
    usageUsersDrifted: first?.drifted ?? 0,
    usageTotalDriftCents: Number(first?.total_drift ?? 0),
    usageDrifted: found
      .filter((r) => r.user_id !== null)
      .map((r) => ({
        userId: r.user_id as string,
        ledgerUsageCents: Number(r.ledger),
        consumedCents: Number(r.consumed),
        driftCents: Number(r.drift),
      })),
  };
}

/** The largest manual adjustment accepted, either way: 10^12 cents. */
const MAX_ADJUSTMENT_CENTS = 1_000_000_000_000;

/**
 * An operator's manual correction: an ADJUSTMENT ledger row with its reason, credit or debit
 * (the balance may go below zero).
 */
export async function adjustBalance(
  em: EntityManager,
  input: { userId: string; amountCents: number; note: string },
): Promise<LedgerEntry> {
  const problems: Problem[] = [];
  if (
    !Number.isSafeInteger(input.amountCents) ||
    input.amountCents === 0 ||
    Math.abs(input.amountCents) > MAX_ADJUSTMENT_CENTS
  ) {
    problems.push({
      path: 'amountCents',
      message: `must be a whole number of cents, not 0, at most ${MAX_ADJUSTMENT_CENTS} either way`,
    });
  }
  const note = input.note.trim();
  if (note.length === 0 || note.length > 1000) {
    problems.push({ path: 'note', message: 'must say why, in 1 to 1000 characters' });
  }
  if (problems.length > 0) throw new ValidationError(problems, 'Invalid adjustment');
  if (!isUuid(input.userId)) throw new NotFoundError('User', input.userId);
  return em.transactional(async (tx) => {
    const posted = await postLedgerEntry(tx, {
      userId: input.userId,
      kind: 'ADJUSTMENT',
      amountCents: input.amountCents,
      note,
    });
    if (!posted) throw new NotFoundError('User', input.userId);
    return tx.findOneOrFail(LedgerEntry, posted.id);
  });
}
