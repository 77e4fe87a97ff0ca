import { z } from 'zod';

/**
 * Usage records per apply transaction (AGGREGATE_BATCH_SIZE). Larger batches mean fewer USAGE
 * ledger rows per record (one per user and batch) and less per-batch overhead; a batch holds the
 * billing rows of its users locked for its duration (well under a second at this size).
 */
export const DEFAULT_AGGREGATE_BATCH_SIZE = 50_000;

/** AGGREGATE_BATCH_SIZE in the api's and the workers' configuration. */
export const aggregateBatchSizeEnv = z.coerce
  .number()
  .int()
  .positive()
  .max(100_000)
  .default(DEFAULT_AGGREGATE_BATCH_SIZE);
