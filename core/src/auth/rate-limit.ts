import type { EntityManager } from '@mikro-orm/postgresql';
import { nativePool } from '../db/native-pool.ts';
import { firstRow, sql } from '../db/sql.ts';
import { RateLimitedError } from '../errors.ts';

/** Fixed windows: attempts are counted per bucket and 15-minute window (aligned to the epoch). */
export const RATE_LIMIT_WINDOW_SECONDS = 15 * 60;

/** Counted windows are kept this long, then deleted by the next attempt that opens a window. */
const KEEP_WINDOWS = '1 day';

export interface RateLimitBucket {
  /** `email:<email>` or `ip:<address>`. */
  bucket: string;
  /** Attempts allowed in one window. */
  limit: number;
}

/** Bucket keys stay short whatever a caller sends (a longer email is not an email anyway). */
const MAX_BUCKET_LENGTH = 400;

export const emailBucket = (email: string): string =>
  `email:${email.trim().toLowerCase()}`.slice(0, MAX_BUCKET_LENGTH);
export const ipBucket = (ip: string): string => `ip:${ip}`.slice(0, MAX_BUCKET_LENGTH);

/**
 * Counts one attempt in every bucket (one statement; in PostgreSQL, so every api replica shares
 * the counts) and throws RateLimitedError when any bucket is over its limit in the current
 * window. Runs outside any transaction: the attempt stays counted whatever happens next.
 */
export async function countAttempt(em: EntityManager, buckets: RateLimitBucket[]): Promise<void> {
  if (buckets.length === 0) return;
  // Sorted, so that two statements touching the same rows lock them in the same order.
  const sorted = [...new Map(buckets.map((b) => [b.bucket, b])).values()].sort((a, b) =>
    a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : 0,
  );
  const pool = await nativePool(em);
  const { rows } = await pool.query<{ bucket: string; attempts: number; retry_after: number }>(
    `insert into auth_rate_limit as r (bucket, window_start, attempts)
     select t.b, to_timestamp(floor(extract(epoch from now()) / $1::int) * $1::int), 1
       from unnest($2::text[]) with ordinality as t(b, n) order by t.n
     on conflict (bucket, window_start) do update set attempts = r.attempts + 1
     returning r.bucket, r.attempts,
       ceil(extract(epoch from r.window_start + make_interval(secs => $1::int) - now()))::int as retry_after`,
    [RATE_LIMIT_WINDOW_SECONDS, sorted.map((b) => b.bucket)],
  );
  // A new window somewhere: the moment to forget old ones (cheap: an index range on window_start).
  if (rows.some((r) => r.attempts === 1)) {
    await pool.query(`delete from auth_rate_limit where window_start < now() - interval '${KEEP_WINDOWS}'`);
  }
  let retryAfter = 0;
  for (const row of rows) {
    const limit = sorted.find((b) => b.bucket === row.bucket)?.limit ?? Number.POSITIVE_INFINITY;
    if (row.attempts > limit) retryAfter = Math.max(retryAfter, row.retry_after, 1);
  }
  if (retryAfter > 0) throw new RateLimitedError(retryAfter);
}

/**
 * Seconds until the current window ends when `bucket` is over `limit` in it, else 0. Reads only
 * (the attempt is not counted): for a request that must be refused while its address is limited.
 */
export async function retryAfterWhenLimited(em: EntityManager, bucket: RateLimitBucket): Promise<number> {
  const secs = RATE_LIMIT_WINDOW_SECONDS;
  const row = await firstRow(
    em,
    sql<{ attempts: number; retry_after: number }>`select attempts,
       ceil(extract(epoch from window_start + make_interval(secs => ${secs}::int) - now()))::int as retry_after
       from auth_rate_limit
      where bucket = ${bucket.bucket}
        and window_start = to_timestamp(floor(extract(epoch from now()) / ${secs}::int) * ${secs}::int)`,
  );
  return row && row.attempts > bucket.limit ? Math.max(row.retry_after, 1) : 0;
}
