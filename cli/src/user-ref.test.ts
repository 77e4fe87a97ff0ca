import { describe, expect, it } from 'vitest';
import type { ApiClient } from './client.ts';
import type { CommandDefinition } from './command.ts';
import { COMMANDS } from './commands/index.ts';
import { CliError, UsageError } from './errors.ts';
import { runWith, usageError } from './testing.ts';
import { resolveUser, USER_REF_VALUE, userRef } from './user-ref.ts';

const ID = '0b7e3c2a-5d4f-4e6a-9c1b-2f3e4d5a6b7c';

/** A client answering `users(email:)` with these users. */
function clientWith(users: { id: string; email: string }[]) {
  const asked: unknown[] = [];
  const client = {
    request: async (_document: unknown, variables: unknown) => {
      asked.push(variables);
      return { users: { edges: users.map((node) => ({ node })) } };
    },
  } as unknown as ApiClient;
  return { client, asked };
}

describe('userRef', () => {
  it('takes a user id as given and an email lower-cased, both trimmed', () => {
    expect(userRef('user', ` ${ID} `)).toEqual({ id: ID });
    expect(userRef('user', ID.toUpperCase())).toEqual({ id: ID.toUpperCase() });
    expect(userRef('user', ' Ada.Lovelace+hero@Example.ORG ')).toEqual({
      email: 'ada.lovelace+hero@example.org',
    });
  });

  it('refuses a name, a part of an email or a malformed id: never a guess', () => {
    for (const bad of [
      'ada',
      'Ada Lovelace',
      'example.org',
      '@example.org',
      'ada@',
      'a b@c.d',
      'u-1',
      `${ID}0`,
    ]) {
      const err = (() => {
        try {
          userRef('user', bad);
        } catch (e) {
          return e;
        }
      })();
      expect(err, bad).toBeInstanceOf(UsageError);
      expect((err as UsageError).message).toBe(
        `--user must be a user's whole email address or their id (got "${bad}"; a part of an email or a name could match several users)`,
      );
    }
  });
});

describe('resolveUser', () => {
  it('answers an id without asking the API', async () => {
    const { client, asked } = clientWith([]);
    expect(await resolveUser(client, { id: ID })).toBe(ID);
    expect(asked).toEqual([]);
  });

  it('looks an email up exactly and answers its id', async () => {
    const { client, asked } = clientWith([{ id: ID, email: 'ada@example.org' }]);
    expect(await resolveUser(client, { email: 'ada@example.org' })).toBe(ID);
    expect(asked).toEqual([{ email: 'ada@example.org' }]);
  });

  it('an unknown email fails naming it (exit 1)', async () => {
    const { client } = clientWith([]);
    const err = await resolveUser(client, { email: 'nobody@example.org' }).catch((e) => e);
    expect(err).toBeInstanceOf(CliError);
    expect(err).not.toBeInstanceOf(UsageError);
    expect(err.exitCode).toBe(1);
    expect(err.message).toBe('no user with the email nobody@example.org');
  });

  it('more than one answer is refused, not picked from', async () => {
    const { client } = clientWith([
      { id: ID, email: 'ada@example.org' },
      { id: 'another', email: 'ada@example.org' },
    ]);
    const err = await resolveUser(client, { email: 'ada@example.org' }).catch((e) => e);
    expect(err).toBeInstanceOf(CliError);
    expect(err.message).toBe(
      'more than one user with the email ada@example.org; name the user by id instead',
    );
  });
});

describe('every option that names a user', () => {
  const withUser = (COMMANDS as readonly CommandDefinition[]).filter((c) => 'user' in c.options);

  it('takes <email|id> (users, payments, allocations, audit); no option asks for a bare user id', () => {
    expect(withUser.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'allocations list',
        'audit list',
        'billing adjust',
        'ledger list',
        'payments list',
        'payments record',
        'users delete',
        'users invite',
        'users set-quota',
        'users show',
        'users suspend',
        'users unsuspend',
      ]),
    );
    for (const c of withUser) expect(c.options.user.value, c.name).toBe(USER_REF_VALUE);
    for (const c of COMMANDS as readonly CommandDefinition[])
      for (const [flag, o] of Object.entries<{ value?: string }>(c.options))
        expect(o.value ?? '', `${c.name} --${flag}`).not.toMatch(/user ?id/i);
  });

  it('refuses a partial email before any request', () => {
    for (const c of withUser) {
      const required = Object.entries<{ required?: boolean }>(c.options)
        .filter(([flag, o]) => o.required && flag !== 'user')
        .flatMap(([flag]) => [`--${flag}`, flag === 'amount-cents' || flag === 'quota' ? '100' : 'EUR']);
      expect(usageError([...c.name.split(' '), '--user', 'ada', ...required]), c.name).toMatch(
        new RegExp(`^${c.name}: --user must be a user's whole email address or their id`),
      );
    }
  });

  it('an email is looked up first, then the command sends the id it found', async () => {
    const found = { users: { edges: [{ node: { id: ID, email: 'ada@example.org' } }] } };
    const res = await runWith(['users', 'unsuspend', '--user', 'ADA@example.org'], found, {
      unsuspendUser: {
        __typename: 'UnsuspendUserSuccess',
        user: { id: ID, email: 'ada@example.org', status: 'ACTIVE' },
      },
    });
    expect(res.error).toBeUndefined();
    expect(res.sent.map((s) => s.variables)).toEqual([{ email: 'ada@example.org' }, { userId: ID }]);
    expect(res.sent[0].query).toMatch(/users\(email: \$email/);
  });

  it('an unknown email stops the command before it changes anything', async () => {
    const res = await runWith(['users', 'suspend', '--user', 'nobody@example.org', '--reason', 'fraud'], {
      users: { edges: [] },
    });
    expect(res.error?.message).toBe('no user with the email nobody@example.org');
    expect(res.error?.exitCode).toBe(1);
    expect(res.sent).toHaveLength(1);
  });
});
