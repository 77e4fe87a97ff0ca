import { z } from 'zod';

/**
 * When a balance counts as low, and how long a negative balance may last before the user's VMs
 * are released. The api (the dashboard's credit status) and the auto-release worker (the credit
 * watch) read the same variables, so both say the same thing.
 */
export interface CreditPolicy {
  /** Low when the runway (balance / usage rate of the last 7 days) is below this many days; 0: off. */
  runwayDays: number;
  /** Low when the balance is below this many cents (any currency); 0: only a negative balance. */
  floorCents: number;
  /** A balance below zero this long releases the user's VMs (CREDIT_EXHAUSTED); 0: never. */
  graceHours: number;
}

export const DEFAULT_CREDIT_POLICY: CreditPolicy = { runwayDays: 3, floorCents: 200, graceHours: 72 };

/** The variables, spread into the api's and the workers' configuration schemas. */
export const creditPolicyEnv = {
  LOW_BALANCE_RUNWAY_DAYS: z.coerce
    .number()
    .min(0)
    .max(365)
    .default(DEFAULT_CREDIT_POLICY.runwayDays)
    .describe(
      'a balance is low (`balance.low`, the dashboard banner) when it lasts fewer days than this at the usage rate of the last 7 days; `0`: only the `LOW_BALANCE_CENTS` floor counts. Set the same on the api and the auto-release worker',
    ),
  LOW_BALANCE_CENTS: z.coerce
    .number()
    .int()
    .min(0)
    .max(1_000_000_000_000)
    .default(DEFAULT_CREDIT_POLICY.floorCents)
    .describe(
      'a balance below this many cents (in its own currency) is low, whatever the usage; `0`: off. Set the same on the api and the auto-release worker',
    ),
  NEGATIVE_BALANCE_GRACE_HOURS: z.coerce
    .number()
    .min(0)
    .max(24 * 366)
    .default(DEFAULT_CREDIT_POLICY.graceHours)
    .describe(
      "a balance below zero this long releases the user's ACTIVE VMs (reason `CREDIT_EXHAUSTED`, warned by `allocation.expiring` when it goes negative); credit that brings it back to zero or above ends the grace; `0`: never release. Set the same on the api and the auto-release worker",
    ),
};

export function creditPolicyOf(config: {
  LOW_BALANCE_RUNWAY_DAYS: number;
  LOW_BALANCE_CENTS: number;
  NEGATIVE_BALANCE_GRACE_HOURS: number;
}): CreditPolicy {
  return {
    runwayDays: config.LOW_BALANCE_RUNWAY_DAYS,
    floorCents: config.LOW_BALANCE_CENTS,
    graceHours: config.NEGATIVE_BALANCE_GRACE_HOURS,
  };
}
