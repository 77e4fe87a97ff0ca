type Db = { query: <T extends object>(text: string, params?: unknown[]) => Promise<T[]> };

/** A user's balance in cents, straight from the billing row. */
export async function balanceOf(db: Db, userId: string): Promise<number> {
  const [row] = await db.query<{ b: string }>(
    'select credit_balance_cents::text as b from billing where user_id = $1',
    [userId],
  );
  return Number(row.b);
}

/** The sum of a user's ledger rows in cents (what the balance must equal). */
export async function ledgerSumOf(db: Db, userId: string): Promise<number> {
  const [row] = await db.query<{ s: string }>(
    'select coalesce(sum(amount_cents), 0)::text as s from ledger_entry where user_id = $1',
    [userId],
  );
  return Number(row.s);
}
