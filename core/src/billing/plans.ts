import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { redateForPeriod } from '../allocation/redate-for-period.ts';
import { PlanPurchase } from '../entities/plan-purchase.entity.ts';
import {
  CurrencyMismatchError,
  EmailNotVerifiedError,
  InsufficientCreditError,
  NotFoundError,
  ValidationError,
} from '../errors.ts';
import { ConfigError, formatZodIssues } from '../lib/env.ts';
import { lockLiveUser } from '../users/lock-user.ts';
import { writeUserQuota } from '../users/set-user-quota.ts';
import { lockBilling, postLedgerEntry } from './ledger.ts';

const DAY_MS = 86_400_000;
/** The most periods one purchase may commit to. */
export const MAX_PERIODS = 120;

export interface PlanDiscount {
  /** From this many committed periods on… */
  periods: number;
  /** …this much off the total (0-100, at most two decimals). */
  percent: number;
}

export interface Plan {
  code: string;
  name: string;
  vmQuota: number;
  periodDays: number;
  /** Price of one period, in the catalog's currency. */
  priceCents: number;
  currency: string;
  /** The discount ladder, lowest `periods` first (the catalog's, unless the plan has its own). */
  discounts: PlanDiscount[];
}

export interface PlanCatalog {
  plans: Plan[];
  currency: string;
}

/** 1 period 0%, 3 periods 5%, 12 periods 15%. */
export const DEFAULT_DISCOUNTS: readonly PlanDiscount[] = [
  { periods: 1, percent: 0 },
  { periods: 3, percent: 5 },
  { periods: 12, percent: 15 },
];

const discountSchema = z.strictObject({
  periods: z.number().int().min(1).max(MAX_PERIODS),
  percent: z
    .number()
    .min(0)
    .max(100)
    .refine((p) => Number.isInteger(Math.round(p * 100)) && Math.abs(p * 100 - Math.round(p * 100)) < 1e-9, {
      message: 'must have at most two decimals',
    }),
});

const ladderSchema = z
  .array(discountSchema)
  .min(1)
  .superRefine((ladder, ctx) => {
    const seen = new Set<number>();
    ladder.forEach((d, i) => {
      if (seen.has(d.periods))
        ctx.addIssue({
          code: 'custom',
          path: [i, 'periods'],
          message: `periods ${d.periods} is listed twice`,
        });
      seen.add(d.periods);
    });
  });

const planSchema = z.strictObject({
  code: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'must be 1-40 lowercase letters, digits, - or _'),
  name: z.string().trim().min(1).max(100),
  vmQuota: z.number().int().min(0).max(10_000),
  periodDays: z.number().int().min(1).max(3660),
  priceCents: z.number().int().min(0).max(1_000_000_000),
  discounts: ladderSchema.optional(),
});

const catalogObjectSchema = z.strictObject({
  plans: z.array(planSchema),
  discounts: ladderSchema.optional(),
});
// A bare array is `{ plans: [...] }` with the default ladder.
const catalogSchema = z.preprocess((v) => (Array.isArray(v) ? { plans: v } : v), catalogObjectSchema);

/** A bad PLANS_JSON / PLANS_FILE: one line per problem. */
export class PlanCatalogError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid plan catalog:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * Parses the plan catalog (PLANS_JSON / PLANS_FILE): a JSON array of plans, or
 * `{ "plans": [...], "discounts": [...] }`. Each plan: code, name, vmQuota, periodDays,
 * priceCents (per period, in `currency`, the billing currency), and optionally its own
 * `discounts` ladder. Every problem is listed.
 */
export function parsePlanCatalog(json: string | unknown, currency: string): PlanCatalog {
  let value: unknown = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (err) {
      throw new PlanCatalogError([`not valid JSON: ${(err as Error).message}`]);
    }
  }
  const parsed = catalogSchema.safeParse(value);
  if (!parsed.success) {
    throw new PlanCatalogError(formatZodIssues(parsed.error));
  }
  const raw = parsed.data;
  const problems: string[] = [];
  const codes = new Set<string>();
  raw.plans.forEach((p, i) => {
    if (codes.has(p.code)) problems.push(`plans.${i}.code: "${p.code}" is listed twice`);
    codes.add(p.code);
  });
  if (problems.length) throw new PlanCatalogError(problems);
  const byPeriods = (a: PlanDiscount, b: PlanDiscount) => a.periods - b.periods;
  const ladder = [...(raw.discounts ?? DEFAULT_DISCOUNTS)].sort(byPeriods);
  return {
    currency,
    plans: raw.plans.map((p) => ({
      code: p.code,
      name: p.name,
      vmQuota: p.vmQuota,
      periodDays: p.periodDays,
      priceCents: p.priceCents,
      currency,
      discounts: p.discounts ? [...p.discounts].sort(byPeriods) : ladder,
    })),
  };
}

/**
 * The catalog from PLANS_JSON or PLANS_FILE (an empty catalog when neither is set); a bad one
 * is a configuration error listing every problem.
 */
export function loadPlanCatalog(config: {
  PLANS_JSON?: string;
  PLANS_FILE?: string;
  DEFAULT_CURRENCY: string;
}): PlanCatalog {
  const source =
    config.PLANS_JSON !== undefined ? 'PLANS_JSON' : config.PLANS_FILE !== undefined ? 'PLANS_FILE' : null;
  if (!source) return { plans: [], currency: config.DEFAULT_CURRENCY };
  let text = config.PLANS_JSON ?? '';
  if (source === 'PLANS_FILE') {
    try {
      text = readFileSync(config.PLANS_FILE!, 'utf8');
    } catch (err) {
      throw new ConfigError([
        `PLANS_FILE: cannot read ${config.PLANS_FILE}: ${(err as NodeJS.ErrnoException).code ?? err}`,
      ]);
    }
  }
  try {
    return parsePlanCatalog(text, config.DEFAULT_CURRENCY);
  } catch (err) {
    if (err instanceof PlanCatalogError) throw new ConfigError(err.problems.map((p) => `${source}: ${p}`));
    throw err;
  }
}

export interface PlanQuote {
  plan: Plan;
  periods: number;
  unitPriceCents: number;
  /** priceCents × periods. */
  subtotalCents: number;
  /** The ladder step that applies: the largest `periods` not above the committed periods. */
  discountPercent: number;
  /** floor(subtotal × percent / 100), in whole cents. */
  discountCents: number;
  /** subtotal − discount: what is debited. */
  priceCents: number;
  currency: string;
}

/**
 * The price of `periods` periods of a plan, in integer arithmetic: the discount is
 * floor(subtotal × basis points / 10000) cents, i.e. rounded down to the cent, so the price is
 * the exact discounted price rounded up to the cent.
 */
export function quotePlan(catalog: PlanCatalog, planCode: string, periods: number): PlanQuote {
  const plan = catalog.plans.find((p) => p.code === planCode);
  if (!plan) throw new NotFoundError('Plan', planCode);
  if (!Number.isInteger(periods) || periods < 1 || periods > MAX_PERIODS) {
    throw new ValidationError(
      [{ path: 'periods', message: `must be a whole number from 1 to ${MAX_PERIODS}` }],
      'Invalid quote',
    );
  }
  let step: PlanDiscount = { periods: 0, percent: 0 };
  for (const d of plan.discounts) if (d.periods <= periods && d.periods >= step.periods) step = d;
  const subtotal = BigInt(plan.priceCents) * BigInt(periods);
  const basisPoints = BigInt(Math.round(step.percent * 100));
  const discount = (subtotal * basisPoints) / 10_000n; // BigInt division truncates: floor for >= 0
  return {
    plan,
    periods,
    unitPriceCents: plan.priceCents,
    subtotalCents: Number(subtotal),
    discountPercent: step.percent,
    discountCents: Number(discount),
    priceCents: Number(subtotal - discount),
    currency: plan.currency,
  };
}

export interface PurchasePlanInput {
  userId: string;
  planCode: string;
  periods: number;
  now?: Date;
}

export interface PurchasePlanResult {
  purchase: PlanPurchase;
  quote: PlanQuote;
  balanceCents: number;
  /** ACTIVE allocations whose expiresAt moved to the new period end. */
  allocationsRedated: number;
}

/**
 * Buys `periods` periods of a plan, in one transaction: the user row is locked, then the
 * billing row (purchases of one user queue up), the discounted price is debited only if the balance covers it
 * (INSUFFICIENT_CREDIT otherwise, nothing changed), the user gets the plan's vmQuota and a
 * period end `periods × periodDays` after the current end when that is still ahead (renewing
 * early extends) or after now, and every ACTIVE allocation of the user is re-dated to expire at
 * the new end: all VMs of a plan expire together.
 */
export async function purchasePlan(
  em: EntityManager,
  catalog: PlanCatalog,
  input: PurchasePlanInput,
): Promise<PurchasePlanResult> {
  const quote = quotePlan(catalog, input.planCode, input.periods);
  const now = input.now ?? new Date();
  return em.transactional((tx) => purchaseInTransaction(tx, quote, { userId: input.userId, now }));
}

/**
 * purchasePlan's transaction body, shared with auto-renew (which holds the user lock already
 * and passes the period end it renews: `renewsPeriodEnd`, unique per user). Throws
 * INSUFFICIENT_CREDIT before writing anything, so a caller may catch it and go on in the
 * same transaction.
 */
export async function purchaseInTransaction(
  tx: EntityManager,
  quote: PlanQuote,
  input: { userId: string; now: Date; renewsPeriodEnd?: Date },
): Promise<PurchasePlanResult> {
  const now = input.now;
  const user = await lockLiveUser(tx, input.userId);
  if (!user.email_verified) throw new EmailNotVerifiedError();
  const billing = await lockBilling(tx, input.userId);
  if (!billing) throw new NotFoundError('User', input.userId);
  if (billing.currency !== quote.currency) throw new CurrencyMismatchError(billing.currency, quote.currency);
  if (billing.balanceCents < quote.priceCents) {
    throw new InsufficientCreditError(billing.balanceCents, quote.priceCents, billing.currency);
  }
  const currentEnd = user.vm_quota_period_end;
  const periodStart = currentEnd && currentEnd.getTime() > now.getTime() ? currentEnd : now;
  const periodEnd = new Date(periodStart.getTime() + quote.periods * quote.plan.periodDays * DAY_MS);
  const purchaseId = randomUUID();
  const posted = await postLedgerEntry(tx, {
    userId: input.userId,
    kind: 'PLAN_PURCHASE',
    amountCents: -quote.priceCents,
    reference: purchaseId,
    note: `${quote.plan.name} × ${quote.periods}${input.renewsPeriodEnd ? ' (auto-renewal)' : ''}`,
  });
  // Locked since lockBilling: the balance checked above is the one debited.
  if (!posted) throw new NotFoundError('User', input.userId);
  await writeUserQuota(tx, input.userId, { vmQuota: quote.plan.vmQuota, periodEnd });
  const redated = await redateForPeriod(tx, input.userId, periodEnd);
  const purchase = tx.create(PlanPurchase, {
    id: purchaseId,
    userId: input.userId,
    planCode: quote.plan.code,
    planName: quote.plan.name,
    periods: quote.periods,
    vmQuota: quote.plan.vmQuota,
    periodDays: quote.plan.periodDays,
    unitPriceCents: quote.unitPriceCents,
    discountPercent: quote.discountPercent,
    priceCents: quote.priceCents,
    currency: quote.currency,
    periodStart,
    periodEnd,
    renewsPeriodEnd: input.renewsPeriodEnd ?? null,
    createdAt: now,
  });
  await tx.flush();
  return { purchase, quote, balanceCents: posted.balanceAfterCents, allocationsRedated: redated };
}
