import type { EntityManager } from '@mikro-orm/postgresql';
import { firstRow, rows, sql } from '../db/sql.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { isUuid } from '../lib/ids.ts';
import { usageOriginsForUser } from '../usage/list-usage.ts';

/**
 * Monthly statements and payment receipts, read from the ledger (the only record of what moved a
 * balance). A month is a UTC calendar month: [first day 00:00 UTC, first day of the next month
 * 00:00 UTC), by each ledger row's `created_at` (its transaction's time). Every amount is signed
 * integer cents (credit > 0, debit < 0) in the user's one billing currency, which goes with it.
 * Opening balance = the sum of the user's ledger rows before the month; closing balance = opening
 * + the month's rows; so opening + every line = closing, to the cent, and equals the ledger.
 */

export const STATEMENT_LINE_KINDS = ['PAYMENT', 'REFUND', 'PLAN_PURCHASE', 'ADJUSTMENT'] as const;
export type StatementLineKind = (typeof STATEMENT_LINE_KINDS)[number];

/** One ledger row other than usage. */
export interface StatementLine {
  ledgerEntryId: number;
  kind: StatementLineKind;
  at: Date;
  amountCents: number;
  currency: string;
  /** What it was: the ledger row's note (the plan and periods, the adjustment's reason, …). */
  description: string;
  /** The ledger row's reference: a payment id, a plan purchase id, or null. */
  reference: string | null;
  /** PAYMENT and REFUND: the payment event, whose receipt the user can open. */
  paymentId: string | null;
}

export interface StatementLineGroup {
  kind: StatementLineKind;
  lines: StatementLine[];
  totalCents: number;
  currency: string;
}

/** Where usage of one resource on one node came from: one file at one commit. */
export interface UsageOrigin {
  nodeName: string;
  /** null: consumed before the aggregator kept commits (Migration20261204300000). */
  commitSha: string | null;
  filePath: string;
  records: number;
  quantity: number;
  /** Signed: a debit, so negative (or 0). */
  amountCents: number;
  currency: string;
}

export interface UsageGroup {
  resource: string;
  nodeName: string;
  records: number;
  quantity: number;
  amountCents: number;
  currency: string;
  origins: UsageOrigin[];
}

export interface StatementUsage {
  groups: UsageGroup[];
  /** What the month's USAGE ledger rows debited (signed, ≤ 0): the usage total the balance moved by. */
  totalCents: number;
  /**
   * USAGE ledger debits without a consumed record behind them in the month (ledger − records);
   * 0 unless the ledger and the consumed records disagree (reconcile reports it as usage drift).
   */
  unattributedCents: number;
  currency: string;
}

export interface MonthlyStatement {
  userId: string;
  /** YYYY-MM. */
  month: string;
  /** First instant of the month, UTC. */
  from: Date;
  /** First instant of the next month, UTC (exclusive). */
  to: Date;
  currency: string;
  openingBalanceCents: number;
  /** Always the four kinds, in STATEMENT_LINE_KINDS order (empty groups included). */
  groups: StatementLineGroup[];
  usage: StatementUsage;
  closingBalanceCents: number;
  /** The sum of the month's ledger rows: closing − opening. */
  netChangeCents: number;
  /** Ledger rows in the month. */
  ledgerEntries: number;
}

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** A month 'YYYY-MM' (years 2000–9999) as its UTC bounds; ValidationError otherwise. */
export function monthBounds(month: string): { from: Date; to: Date } {
  const m = MONTH.exec(month);
  const year = m ? Number(m[1]) : 0;
  if (!m || year < 2000) {
    throw new ValidationError(
      [{ path: 'month', message: 'must be a month as YYYY-MM (e.g. 2026-11), from 2000-01 on' }],
      'Invalid month',
    );
  }
  const index = Number(m[2]) - 1;
  return { from: new Date(Date.UTC(year, index, 1)), to: new Date(Date.UTC(year, index + 1, 1)) };
}

/** The UTC month of `at`, as YYYY-MM. */
export function monthOf(at: Date): string {
  return `${at.getUTCFullYear()}-${String(at.getUTCMonth() + 1).padStart(2, '0')}`;
}

async function billingCurrency(em: EntityManager, userId: string): Promise<string> {
  if (!isUuid(userId)) throw new NotFoundError('User', userId);
  const row = await firstRow(
    em,
    sql<{ currency: string }>`select currency from billing where user_id = ${userId}`,
  );
  if (!row) throw new NotFoundError('User', userId);
  return row.currency;
}

/**
 * The months a user has a statement for, newest first: from the month of their first ledger row
 * (or of `now` when there is none) to the month of `now`, UTC.
 */
export async function statementMonths(
  em: EntityManager,
  userId: string,
  now = new Date(),
): Promise<string[]> {
  await billingCurrency(em, userId);
  const first = await firstRow(
    em,
    sql<{ at: Date | null }>`select min(created_at) as at from ledger_entry where user_id = ${userId}`,
  );
  const start = first?.at ? new Date(first.at) : now;
  const months: string[] = [];
  let y = now.getUTCFullYear();
  let m = now.getUTCMonth();
  const endKey = start.getUTCFullYear() * 12 + start.getUTCMonth();
  // Bounded: a ledger older than the years a statement covers is not listed month by month.
  while (y * 12 + m >= endKey && months.length < 600) {
    months.push(`${y}-${String(m + 1).padStart(2, '0')}`);
    m -= 1;
    if (m < 0) {
      m = 11;
      y -= 1;
    }
  }
  return months;
}

/** The statement of one user for one UTC month. NotFoundError for an unknown user. */
export async function monthlyStatement(
  em: EntityManager,
  userId: string,
  month: string,
): Promise<MonthlyStatement> {
  const { from, to } = monthBounds(month);
  const currency = await billingCurrency(em, userId);
  // One snapshot: the opening, the rows and the usage records are read consistently.
  return em.transactional(
    async (tx) => {
      const opening = await firstRow(
        tx,
        sql<{ cents: string }>`select coalesce(sum(amount_cents), 0)::text as cents from ledger_entry
                                where user_id = ${userId} and created_at < ${from}`,
      );
      const entries = await rows(
        tx,
        sql<{
          id: string;
          kind: string;
          amount_cents: string;
          created_at: Date;
          reference: string | null;
          note: string | null;
          payment_id: string | null;
        }>`select l.id, l.kind, l.amount_cents, l.created_at, l.reference, l.note, p.id as payment_id
             from ledger_entry l
             left join payment_event p
               on l.kind in ('PAYMENT', 'REFUND') and p.id::text = l.reference and p.user_id = l.user_id
            where l.user_id = ${userId} and l.created_at >= ${from} and l.created_at < ${to}
            order by l.id`,
      );
      const origins = await usageOriginsForUser(tx, userId, from, to);

      const groups: StatementLineGroup[] = STATEMENT_LINE_KINDS.map((kind) => ({
        kind,
        lines: [],
        totalCents: 0,
        currency,
      }));
      let usageLedgerCents = 0;
      let net = 0;
      for (const e of entries) {
        const amountCents = Number(e.amount_cents);
        net += amountCents;
        if (e.kind === 'USAGE') {
          usageLedgerCents += amountCents;
          continue;
        }
        const group = groups.find((g) => g.kind === e.kind);
        if (!group) throw new Error(`ledger row ${e.id} has an unknown kind ${e.kind}`);
        group.lines.push({
          ledgerEntryId: Number(e.id),
          kind: group.kind,
          at: new Date(e.created_at),
          amountCents,
          currency,
          description: e.note ?? group.kind.toLowerCase().replace('_', ' '),
          reference: e.reference,
          paymentId: e.payment_id,
        });
        group.totalCents += amountCents;
      }

      const usageGroups: UsageGroup[] = [];
      let attributed = 0;
      for (const o of origins) {
        let group = usageGroups.at(-1);
        if (!group || group.resource !== o.resource || group.nodeName !== o.nodeName) {
          group = {
            resource: o.resource,
            nodeName: o.nodeName,
            records: 0,
            quantity: 0,
            amountCents: 0,
            currency,
            origins: [],
          };
          usageGroups.push(group);
        }
        const amountCents = -o.costCents;
        group.origins.push({
          nodeName: o.nodeName,
          commitSha: o.commitSha,
          filePath: o.filePath,
          records: o.records,
          quantity: o.quantity,
          amountCents,
          currency,
        });
        group.records += o.records;
        group.quantity += o.quantity;
        group.amountCents += amountCents;
        attributed += amountCents;
      }

      const openingBalanceCents = Number(opening?.cents ?? 0);
      return {
        userId,
        month,
        from,
        to,
        currency,
        openingBalanceCents,
        groups,
        usage: {
          groups: usageGroups,
          totalCents: usageLedgerCents,
          unattributedCents: usageLedgerCents - attributed,
          currency,
        },
        closingBalanceCents: openingBalanceCents + net,
        netChangeCents: net,
        ledgerEntries: entries.length,
      };
    },
    { isolationLevel: 'repeatable read', readOnly: true },
  );
}

// --- CSV ---------------------------------------------------------------------------------------

export const STATEMENT_CSV_COLUMNS = [
  'section',
  'date',
  'description',
  'resource',
  'node',
  'commit',
  'file',
  'records',
  'quantity',
  'amount_cents',
  'currency',
  'reference',
] as const;

type CsvRow = Partial<Record<(typeof STATEMENT_CSV_COLUMNS)[number], string | number | null>>;

/** Columns whose text comes from outside (notes, node and file names, references). */
const TEXT_COLUMNS = new Set(['description', 'resource', 'node', 'commit', 'file', 'reference']);

/**
 * A text cell a spreadsheet would not run: one starting with =, +, -, @, a tab or a carriage
 * return gets a leading apostrophe (OWASP's CSV-injection advice). Numbers are ours and left
 * alone.
 */
export function neutralizeFormula(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

/** RFC 4180: quoted when it holds a quote, comma, CR or LF; quotes doubled. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function csvLine(row: CsvRow): string {
  return STATEMENT_CSV_COLUMNS.map((column) => {
    const value = row[column];
    if (value === undefined || value === null) return '';
    const text = String(value);
    return csvField(TEXT_COLUMNS.has(column) ? neutralizeFormula(text) : text);
  }).join(',');
}

/**
 * The statement as CSV (RFC 4180, CRLF line ends, a header row): an OPENING_BALANCE row, one row
 * per line (section = its kind), one USAGE row per origin (resource, node, commit, file), a
 * USAGE_UNATTRIBUTED row when the ledger's usage differs from its records, and a CLOSING_BALANCE
 * row. The amount_cents of every row between opening and closing add up to closing − opening,
 * the month's ledger rows.
 */
export function statementCsv(statement: MonthlyStatement): string {
  const out: CsvRow[] = [];
  const { currency } = statement;
  out.push({
    section: 'OPENING_BALANCE',
    date: statement.from.toISOString(),
    description: `Opening balance ${statement.month}`,
    amount_cents: statement.openingBalanceCents,
    currency,
  });
  for (const group of statement.groups) {
    for (const line of group.lines) {
      out.push({
        section: line.kind,
        date: line.at.toISOString(),
        description: line.description,
        amount_cents: line.amountCents,
        currency: line.currency,
        reference: line.reference,
      });
    }
  }
  for (const group of statement.usage.groups) {
    for (const o of group.origins) {
      out.push({
        section: 'USAGE',
        description: `${group.resource} on ${o.nodeName}`,
        resource: group.resource,
        node: o.nodeName,
        commit: o.commitSha,
        file: o.filePath,
        records: o.records,
        quantity: o.quantity,
        amount_cents: o.amountCents,
        currency: o.currency,
      });
    }
  }
  if (statement.usage.unattributedCents !== 0) {
    out.push({
      section: 'USAGE_UNATTRIBUTED',
      description: 'Usage debited on the ledger without a consumed record in this month',
      amount_cents: statement.usage.unattributedCents,
      currency,
    });
  }
  out.push({
    section: 'CLOSING_BALANCE',
    date: statement.to.toISOString(),
    description: `Closing balance ${statement.month}`,
    amount_cents: statement.closingBalanceCents,
    currency,
  });
  return `${[STATEMENT_CSV_COLUMNS.join(','), ...out.map(csvLine)].join('\r\n')}\r\n`;
}

/** The file name a statement downloads as. */
export function statementCsvFilename(statement: Pick<MonthlyStatement, 'month'>): string {
  return `statement-${statement.month}.csv`;
}

// --- Receipts ----------------------------------------------------------------------------------

export interface ReceiptRefund {
  id: string;
  amountCents: number;
  currency: string;
  createdAt: Date;
  note: string | null;
}

export interface PaymentReceipt {
  id: string;
  userId: string;
  /** CREDIT (money in) or REFUND (money back). */
  kind: 'CREDIT' | 'REFUND';
  amountCents: number;
  currency: string;
  provider: string;
  providerRef: string;
  note: string | null;
  createdAt: Date;
  /** The balance right after it (its ledger row); null if there is no ledger row. */
  balanceAfterCents: number | null;
  /** A REFUND: the payment it gave back. */
  refundOfId: string | null;
  /** A CREDIT: its refunds, oldest first. */
  refunds: ReceiptRefund[];
  /** A CREDIT: amount − refunds; a REFUND: its amount. */
  netCents: number;
}

/**
 * One payment (or refund) of `userId`, with its refunds and the balance after it. Another user's
 * payment, or an id that is none, is NotFoundError('Payment'): nothing says it exists.
 */
export async function paymentReceipt(
  em: EntityManager,
  userId: string,
  paymentId: string,
): Promise<PaymentReceipt> {
  if (!isUuid(paymentId) || !isUuid(userId)) throw new NotFoundError('Payment', paymentId);
  const found = await rows(
    em,
    sql<{
      id: string;
      kind: 'CREDIT' | 'REFUND';
      amount_cents: string;
      currency: string;
      provider: string;
      provider_ref: string;
      note: string | null;
      created_at: Date;
      refund_of: string | null;
      balance_after: string | null;
    }>`select p.id, p.kind, p.amount_cents, p.currency, p.provider, p.provider_ref, p.note, p.created_at,
              p.refund_of, l.balance_after_cents as balance_after
         from payment_event p
         left join ledger_entry l
           on l.user_id = p.user_id and l.reference = p.id::text and l.kind in ('PAYMENT', 'REFUND')
        where p.user_id = ${userId} and (p.id = ${paymentId} or p.refund_of = ${paymentId})
        order by p.created_at, p.id`,
  );
  const payment = found.find((r) => r.id === paymentId);
  if (!payment) throw new NotFoundError('Payment', paymentId);
  const refunds = found
    .filter((r) => r.id !== paymentId)
    .map((r) => ({
      id: r.id,
      amountCents: Number(r.amount_cents),
      currency: r.currency,
      createdAt: new Date(r.created_at),
      note: r.note,
    }));
  const amountCents = Number(payment.amount_cents);
  return {
    id: payment.id,
    userId,
    kind: payment.kind,
    amountCents,
    currency: payment.currency,
    provider: payment.provider,
    providerRef: payment.provider_ref,
    note: payment.note,
    createdAt: new Date(payment.created_at),
    balanceAfterCents: payment.balance_after === null ? null : Number(payment.balance_after),
    refundOfId: payment.refund_of,
    refunds,
    netCents:
      payment.kind === 'CREDIT' ? amountCents - refunds.reduce((s, r) => s + r.amountCents, 0) : amountCents,
  };
}
