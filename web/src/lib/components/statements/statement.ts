/** What the statement pages (the user's and the operator's) read of a Statement. */

import { graphql, type ResultOf } from '@hero/graphql';

export const StatementFields = graphql(`
  fragment StatementFields on Statement @_unmask {
    month
    from
    to
    currency
    openingBalanceCents
    closingBalanceCents
    netChangeCents
    ledgerEntries
    groups {
      kind
      totalCents
      currency
      lines {
        ledgerEntryId
        kind
        at
        amountCents
        currency
        description
        paymentId
      }
    }
    usage {
      totalCents
      unattributedCents
      currency
      groups {
        resource
        nodeName
        records
        amountCents
        currency
        origins {
          nodeName
          commitSha
          filePath
          fileUrl
          records
          amountCents
          currency
        }
      }
    }
  }
`);

export type StatementData = ResultOf<typeof StatementFields>;

/** A month YYYY-MM (the API checks it again): the URL's, else the current UTC month. */
export function monthParam(value: string | null, now = new Date()): string {
  if (value && /^\d{4}-\d{2}$/.test(value)) return value;
  return `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** "December 2026" for 2026-12 (UTC, the statement's own calendar). */
export function monthLabel(month: string): string {
  const [y, m] = month.split('-').map(Number);
  if (!y || !m) return month;
  return new Intl.DateTimeFormat('en', { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(
    new Date(Date.UTC(y, m - 1, 1)),
  );
}

export const KIND_TITLES: Record<string, string> = {
  PAYMENT: 'Payments',
  REFUND: 'Refunds',
  PLAN_PURCHASE: 'Plan purchases',
  ADJUSTMENT: 'Adjustments',
};

/** A commit as people read it: its first 10 characters. */
export const shortCommit = (sha: string) => sha.slice(0, 10);

/** The CSV download's response: text/csv, an attachment with its file name, never cached. */
export function csvResponse(csv: string, filename: string): Response {
  return new Response(csv, {
    headers: {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="${filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`,
      'cache-control': 'private, no-store',
    },
  });
}
