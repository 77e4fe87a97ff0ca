import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../errors.ts';
import { ConfigError } from '../lib/env.ts';
import {
  DEFAULT_DISCOUNTS,
  loadPlanCatalog,
  PlanCatalogError,
  parsePlanCatalog,
  quotePlan,
} from './plans.ts';

const basic = { code: 'basic', name: 'Basic', vmQuota: 1, periodDays: 30, priceCents: 999 };

describe('parsePlanCatalog', () => {
  it('takes a bare array (default ladder) or { plans, discounts }, sorting each ladder', () => {
    expect(parsePlanCatalog([basic], 'EUR').plans[0]).toEqual({
      ...basic,
      currency: 'EUR',
      discounts: DEFAULT_DISCOUNTS,
    });
    const catalog = parsePlanCatalog(
      JSON.stringify({
        plans: [basic],
        discounts: [
          { periods: 6, percent: 10 },
          { periods: 1, percent: 0 },
        ],
      }),
      'CHF',
    );
    expect(catalog.plans[0].discounts).toEqual([
      { periods: 1, percent: 0 },
      { periods: 6, percent: 10 },
    ]);
    expect(catalog.plans[0].currency).toBe('CHF');
  });

  it('the example catalog the repository ships is valid', () => {
    const file = path.resolve(import.meta.dirname, '../../../examples/plans.json');
    const catalog = parsePlanCatalog(readFileSync(file, 'utf8'), 'EUR');
    expect(catalog.plans.map((p) => p.code)).toEqual(['starter', 'team', 'lab']);
  });

  it('lists every problem of a bad catalog', () => {
    const bad = {
      plans: [
        { ...basic, priceCents: -1, extra: true },
        { ...basic, code: 'Bad Code', periodDays: 0 },
      ],
      discounts: [
        { periods: 3, percent: 5.555 },
        { periods: 3, percent: 101 },
      ],
    };
    const err = (() => {
      try {
        parsePlanCatalog(bad, 'EUR');
      } catch (e) {
        return e as PlanCatalogError;
      }
    })();
    expect(err).toBeInstanceOf(PlanCatalogError);
    const text = err!.problems.join('\n');
    for (const where of [
      'plans.0.priceCents',
      'plans.0',
      'plans.1.code',
      'plans.1.periodDays',
      'discounts.0.percent',
      'discounts.1.percent',
      'discounts.1.periods',
    ]) {
      expect(text).toContain(where);
    }
    expect(() => parsePlanCatalog([basic, basic], 'EUR')).toThrow(/"basic" is listed twice/);
    expect(() => parsePlanCatalog('{nope', 'EUR')).toThrow(/not valid JSON/);
  });

  it('loadPlanCatalog names the variable in each problem and refuses an unreadable file', () => {
    expect(loadPlanCatalog({ DEFAULT_CURRENCY: 'EUR' }).plans).toEqual([]);
    expect(() => loadPlanCatalog({ PLANS_JSON: '[{"code":"x"}]', DEFAULT_CURRENCY: 'EUR' })).toThrow(
      ConfigError,
    );
    const problems = (config: Parameters<typeof loadPlanCatalog>[0]) => {
      try {
        loadPlanCatalog(config);
      } catch (err) {
        return (err as ConfigError).problems;
      }
      return [];
    };
    expect(problems({ PLANS_FILE: '/nonexistent/plans.json', DEFAULT_CURRENCY: 'EUR' })).toEqual([
      'PLANS_FILE: cannot read /nonexistent/plans.json: ENOENT',
    ]);
    expect(problems({ PLANS_JSON: '[]', DEFAULT_CURRENCY: 'EUR' })).toEqual([]);
    expect(problems({ PLANS_JSON: '[{"code":"x"}]', DEFAULT_CURRENCY: 'EUR' })[0]).toMatch(
      /^PLANS_JSON: plans\.0\.name: /,
    );
  });
});

describe('quotePlan', () => {
  const catalog = parsePlanCatalog([basic, { ...basic, code: 'big', priceCents: 1_000_000_000 }], 'EUR');

  it('applies the largest ladder step not above the periods, discount rounded down to the cent', () => {
    const q = (periods: number) => quotePlan(catalog, 'basic', periods);
    expect(
      [1, 2, 3, 4, 11, 12, 120].map((n) => [n, q(n).discountPercent, q(n).discountCents, q(n).priceCents]),
    ).toEqual([
      [1, 0, 0, 999],
      [2, 0, 0, 1_998],
      [3, 5, 149, 2_848],
      [4, 5, 199, 3_797],
      [11, 5, 549, 10_440],
      [12, 15, 1_798, 10_190],
      [120, 15, 17_982, 101_898],
    ]);
    for (const n of [1, 3, 7, 12, 50]) {
      const r = q(n);
      expect(r.subtotalCents).toBe(999 * n);
      expect(r.priceCents + r.discountCents).toBe(r.subtotalCents);
    }
  });

  it('stays exact for the largest prices and period counts (integer arithmetic throughout)', () => {
    const r = quotePlan(catalog, 'big', 120); // subtotal 1.2e11 cents, 15% off
    expect(r.discountCents).toBe(18_000_000_000);
    expect(r.priceCents).toBe(102_000_000_000);
  });

  it('refuses an unknown plan and periods out of range', () => {
    expect(() => quotePlan(catalog, 'gold', 1)).toThrow(NotFoundError);
    for (const bad of [0, -1, 121, 1.5])
      expect(() => quotePlan(catalog, 'basic', bad)).toThrow(ValidationError);
  });
});
