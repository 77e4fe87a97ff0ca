import { z } from 'zod';

/**
 * The settings of the plan catalog and the billing currency, shared by the api (quotes,
 * purchases) and the auto-release worker (renewals), so both price a plan alike.
 */
export const planCatalogEnv = {
  DEFAULT_CURRENCY: z
    .string()
    .regex(/^[A-Za-z]{3}$/, 'must be a three-letter ISO 4217 code, e.g. EUR')
    .transform((c) => c.toUpperCase())
    .default('EUR')
    .describe(
      "currency of new users' balances (ISO 4217); a payment or plan in another currency is refused (`CURRENCY_MISMATCH`), never converted",
    ),
  // The plan catalog is parsed by core/src/billing/plans.ts.
  PLANS_JSON: z
    .string()
    .optional()
    .describe(
      'the plan catalog: a JSON array of plans, or `{ "plans": [...], "discounts": [...] }`; unset (and no `PLANS_FILE`): no plans on offer',
    ),
  PLANS_FILE: z
    .string()
    .optional()
    .describe('a file holding the plan catalog (instead of `PLANS_JSON`), e.g. `examples/plans.json`'),
};

/** One source of the catalog at most, and no `..` in its path. */
export function checkPlanCatalogEnv(
  config: { PLANS_JSON?: string; PLANS_FILE?: string },
  ctx: z.RefinementCtx,
): void {
  if (config.PLANS_JSON && config.PLANS_FILE) {
    ctx.addIssue({
      code: 'custom',
      message: 'PLANS_JSON and PLANS_FILE are both set: use one of them',
      path: ['PLANS_JSON'],
    });
  }
  if (config.PLANS_FILE?.split(/[\\/]/).includes('..')) {
    ctx.addIssue({ code: 'custom', message: "a path with '..' is refused", path: ['PLANS_FILE'] });
  }
}
