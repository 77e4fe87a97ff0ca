import { describe, expect, it } from 'vitest';
import { runWith } from '../testing.ts';

describe('plans list', () => {
  it('prints price and discounts', async () => {
    const res = await runWith(['plans', 'list'], {
      plans: [
        {
          code: 'basic',
          name: 'Basic',
          vmQuota: 1,
          periodDays: 30,
          priceCents: 1000,
          currency: 'EUR',
          discounts: [
            { periods: 1, percent: 0 },
            { periods: 3, percent: 5 },
            { periods: 12, percent: 15 },
          ],
        },
      ],
    });
    expect(res.out).toBe(
      'CODE   NAME   VM QUOTA  PERIOD DAYS  PRICE             CURRENCY  DISCOUNTS\n' +
        'basic  Basic  1         30           1000 (10.00 EUR)  EUR       1:0% 3:5% 12:15%\n',
    );
  });
});
