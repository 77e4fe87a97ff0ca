import { graphql } from '@hero/graphql';
import { defineCommand } from '../command.ts';
import { formatDiscounts, formatJson, formatMoney, formatTable } from '../format.ts';

export const PLANS = graphql(`query Plans {
  plans { code name vmQuota periodDays priceCents currency discounts { periods percent } }
}`);

export const plansList = defineCommand({
  name: 'plans list',
  summary: 'list the plans on sale, with their prices and discounts',
  description:
    'The plans the API is configured with (PLANS_JSON): quota, period, price per period, and the\n' +
    'discount for buying several periods at once (periods:percent, e.g. 1:0% 3:5% 12:15%).',
  options: {},
  parse: () => ({}),
  uses: 'api',
  async run({ client, json, io }) {
    const { plans } = await client.request(PLANS);
    if (json) return io.out(formatJson(plans));
    if (plans.length === 0) return io.out('no plans (the API has no PLANS_JSON)\n');
    io.out(
      formatTable(
        ['code', 'name', 'vm quota', 'period days', 'price', 'currency', 'discounts'],
        plans.map((p) => [
          p.code,
          p.name,
          p.vmQuota,
          p.periodDays,
          formatMoney(p.priceCents, p.currency),
          p.currency,
          formatDiscounts(p.discounts),
        ]),
      ),
    );
  },
});
