import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.ts';
import { useTestDatabase } from '../testing/database.ts';
import { uniqueTag } from '../testing/factories.ts';
import { suspendUser } from './account-lifecycle.ts';
import { createUser } from './create-user.ts';
import { pageUsers, USER_SEARCH_MAX_LENGTH } from './list-users.ts';

const t = useTestDatabase();

async function user(email: string, displayName: string) {
  return (await createUser(t.em(), { email, displayName })).user;
}

const emailsOf = async (search: string | undefined, extra: { email?: string } = {}) =>
  (await pageUsers(t.em().fork(), { ...extra, search }, 'EMAIL_ASC', 100, 0)).map((u) => u.email);

describe('pageUsers search', () => {
  it('matches a part of the email or of the display name, case-insensitive', async () => {
    const tag = uniqueTag();
    await user(`ada.lovelace-${tag}@example.org`, 'Ada Lovelace');
    await user(`grace-${tag}@navy.example`, `Grace Hopper ${tag}`);
    await user(`other-${uniqueTag()}@example.org`, 'Someone Else');

    expect(await emailsOf(`LOVELACE-${tag}`)).toEqual([`ada.lovelace-${tag}@example.org`]);
    expect(await emailsOf(`hopper ${tag.toUpperCase()}`)).toEqual([`grace-${tag}@navy.example`]);
    expect(await emailsOf(tag)).toEqual([`ada.lovelace-${tag}@example.org`, `grace-${tag}@navy.example`]);
    expect(await emailsOf(`  ${tag}@navy  `)).toEqual([`grace-${tag}@navy.example`]);
  });

  it('takes % and _ literally, not as wildcards', async () => {
    const tag = uniqueTag();
    await user(`pct_${tag}@example.org`, '100% Real');
    await user(`pctx${tag}@example.org`, '100 Real');
    expect(await emailsOf(`pct_${tag}`)).toEqual([`pct_${tag}@example.org`]);
    expect(await emailsOf(`${tag}%`)).toEqual([]);
    const percent = await pageUsers(t.em().fork(), { search: '100%' }, 'EMAIL_ASC', 100, 0);
    expect(percent.map((u) => u.email)).toContain(`pct_${tag}@example.org`);
    expect(percent.map((u) => u.email)).not.toContain(`pctx${tag}@example.org`);
  });

  it('combines with the exact email filter, and blank means no filter', async () => {
    const tag = uniqueTag();
    const a = await user(`both-${tag}@example.org`, 'Both');
    expect(await emailsOf('both', { email: a.email })).toEqual([a.email]);
    expect(await emailsOf('nomatch', { email: a.email })).toEqual([]);
    expect((await emailsOf('   ')).length).toBeGreaterThan(1);
  });

  it('filters by status, alone or with the search', async () => {
    const tag = uniqueTag();
    await user(`open-${tag}@example.org`, 'Open');
    const held = await user(`held-${tag}@example.org`, 'Held');
    await suspendUser(t.em(), { userId: held.id, reason: 'review' }, { provisionerFor: () => null });
    const emails = async (status: 'active' | 'suspended' | 'deleted') =>
      (await pageUsers(t.em().fork(), { search: tag, status }, 'EMAIL_ASC', 100, 0)).map((u) => u.email);
    expect(await emails('suspended')).toEqual([held.email]);
    expect(await emails('active')).toEqual([`open-${tag}@example.org`]);
    expect(await emails('deleted')).toEqual([]);
    const suspended = await pageUsers(t.em().fork(), { status: 'suspended' }, 'EMAIL_ASC', 100, 0);
    expect(suspended.map((u) => u.email)).toContain(held.email);
    expect(suspended.every((u) => u.status === 'suspended')).toBe(true);
  });

  it('refuses a search text longer than the limit', async () => {
    await expect(
      pageUsers(t.em(), { search: 'x'.repeat(USER_SEARCH_MAX_LENGTH + 1) }, 'EMAIL_ASC', 10, 0),
    ).rejects.toBeInstanceOf(ValidationError);
  });
});
