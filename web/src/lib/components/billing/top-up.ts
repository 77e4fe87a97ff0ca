/** Reading what a user typed as an amount, and what the "Add credit" page is prefilled with. */

/**
 * "30", "30.5", "30.50", "30,50" or "1,000.00"-free plain amounts in the currency's major unit,
 * as whole cents; null when it is not such an amount (at most two decimals, no sign).
 */
export function parseAmountCents(text: string): number | null {
  const match = /^\s*(\d{1,10})(?:[.,](\d{1,2}))?\s*$/.exec(text);
  if (!match) return null;
  const cents = Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0'));
  return Number.isSafeInteger(cents) ? cents : null;
}

/** Cents as the custom amount field shows them: `30`, `30.50` (no currency sign, no grouping). */
export function amountText(cents: number): string {
  return cents % 100 === 0 ? String(cents / 100) : (cents / 100).toFixed(2);
}

/**
 * The amount the page starts with from `?amount=<cents>` (e.g. what a plan is short of): raised
 * to the smallest top-up, null when there is none or it is above the largest.
 */
export function prefillCents(query: string | null, minCents: number, maxCents: number): number | null {
  if (query === null || !/^\d{1,13}$/.test(query)) return null;
  const cents = Number(query);
  if (cents <= 0 || cents > maxCents) return null;
  return Math.max(cents, minCents);
}

/**
 * Set (on /credit) when a top-up starts from the plans page, so that the done page leads back
 * there to buy the plan.
 */
export const RETURN_COOKIE = 'hero_topup_return';
