import { createHash, randomBytes } from 'node:crypto';
import { createGraphQLHandler } from '@hero/api/http/server';
import { ormConfig } from '@hero/core/db/orm';
import { createLogger } from '@hero/core/lib/logger';
import { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import {
  ADMIN_SIGN_IN,
  allocate,
  createUser,
  poolOf,
  recordPayment,
  SIGN_IN,
  SIGN_UP,
  seedAllocations,
  signUpUser,
} from './support/factories.ts';
import { codeOf, graphql, member, type VariablesOf } from './support/graphql.ts';

let db: TestDatabase;
let api: ApiProcess;
/** A second api on the same database: another admin secret, and no trusted proxy at all. */
let other: ApiProcess;

beforeAll(async () => {
  db = await createTestDatabase();
  [api, other] = await Promise.all([
    startApi({ databaseUrl: db.url, env: { VM_POOL_JSON: JSON.stringify(poolOf(6, 'sess')) } }),
    startApi({ databaseUrl: db.url, env: { TRUSTED_PROXIES: 'none' } }),
  ]);
});
afterAll(async () => {
  await Promise.all([api?.stop(), other?.stop()]);
  await db?.drop();
});

/**
 * Every test counts its attempts against addresses of its own (the api trusts its 127.0.0.1
 * peer, so X-Forwarded-For names the client): the per-address limit of one test does not
 * reach the next.
 */
let ipCounter = 0;
const freshIp = () => {
  ipCounter++;
  return `198.51.${100 + Math.floor(ipCounter / 250)}.${(ipCounter % 250) + 1}`;
};
const from = (ip = freshIp()) => ({ 'x-forwarded-for': ip });
const bearer = (token: string, extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${token}`,
  ...extra,
});
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const newEmail = (tag = 'u') => `${tag}-${randomBytes(5).toString('hex')}@example.org`;

const signIn = async (email: string, password: string, headers: Record<string, string> = from()) =>
  (await api.gql(SIGN_IN, { input: { email, password } }, headers)).data.signIn;

describe('signUp', () => {
  it('creates a user with a hashed password, a billing row and a session that works for user operations', async () => {
    const email = newEmail('Ada');
    const password = 'correct horse battery staple';
    const ip = freshIp();
    const res = await api.gql(
      SIGN_UP,
      { input: { email: `  ${email.toUpperCase()} `, displayName: ' Ada ', password } },
      { ...from(ip), 'user-agent': 'TestBrowser/1.0' },
    );
    expect(res.status).toBe(200);
    const result = member(res.data.signUp, 'SignUpSuccess');
    expect(result.user).toMatchObject({ email: email.toLowerCase(), displayName: 'Ada' });
    const { token, expiresAt } = result.session;
    expect(token).toMatch(/^hs_[A-Za-z0-9_-]{43}$/);
    // Default SESSION_TTL_HOURS: 7 days.
    const ttl = new Date(expiresAt).getTime() - Date.now();
    expect(ttl).toBeGreaterThan(168 * 3600_000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(168 * 3600_000);

    const me = await api.asUser(
      token,
      graphql('{ me { id email billing { creditBalanceCents currency } } }'),
    );
    expect(me.status).toBe(200);
    expect(me.data.me).toEqual({
      id: result.user.id,
      email: email.toLowerCase(),
      billing: { creditBalanceCents: 0, currency: 'EUR' },
    });

    const [user] = await db.query<{ password_hash: string }>(
      'select password_hash from users where id = $1',
      [result.user.id],
    );
    expect(user.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(user.password_hash).not.toContain(password);
    expect(await db.query('select id from api_token where user_id = $1', [result.user.id])).toEqual([]);

    const sessions = await db.query('select * from auth_session where user_id = $1', [result.user.id]);
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({
      kind: 'USER',
      token_hash: sha256(token),
      secret_fingerprint: null,
      revoked_at: null,
      ip,
      user_agent: 'TestBrowser/1.0',
    });
    // Only the hash is stored.
    const dump = JSON.stringify(await db.query('select * from auth_session'));
    expect(dump).not.toContain(token);
  });

  it('lists every problem and creates nothing', async () => {
    const before = await db.query('select count(*)::int as n from users');
    const cases: [{ email: string; displayName: string; password: string }, string[]][] = [
      [{ email: newEmail(), displayName: 'Short', password: 'elevenchars' }, ['password']],
      [{ email: 'Same.As@Example.org', displayName: 'Same', password: 'same.as@example.ORG' }, ['password']],
      [{ email: 'not-an-email', displayName: 'Bad', password: 'a perfectly fine password' }, ['email']],
      [{ email: 'nope', displayName: '   ', password: 'short' }, ['displayName', 'email', 'password']],
      [{ email: newEmail(), displayName: 'Long', password: 'x'.repeat(257) }, ['password']],
    ];
    for (const [input, paths] of cases) {
      const res = await api.gql(SIGN_UP, { input }, from());
      expect(res.data.signUp.__typename, JSON.stringify(input)).toBe('ValidationError');
      const { code, problems } = member(res.data.signUp, 'ValidationError');
      expect(code).toBe('BAD_USER_INPUT');
      expect([...new Set(problems.map((p) => p.path))].sort()).toEqual(paths);
    }
    const [short] = member(
      (await api.gql(SIGN_UP, { input: cases[0][0] }, from())).data.signUp,
      'ValidationError',
    ).problems;
    expect(short.message).toBe('must be at least 12 characters');
    const [same] = member(
      (await api.gql(SIGN_UP, { input: cases[1][0] }, from())).data.signUp,
      'ValidationError',
    ).problems;
    expect(same.message).toBe('must not be your email address');
    expect(await db.query('select count(*)::int as n from users')).toEqual(before);
    expect(await db.query("select count(*)::int as n from users where email like 'same.as%'")).toEqual([
      { n: 0 },
    ]);
  });

  it('answers EMAIL_TAKEN for a registered email (whatever its case, and for users made by createUser)', async () => {
    const first = await signUpUser(api, {}, from());
    const again = await api.gql(
      SIGN_UP,
      {
        input: { email: first.email.toUpperCase(), displayName: 'Again', password: 'another long password' },
      },
      from(),
    );
    expect(again.data.signUp).toMatchObject({ __typename: 'EmailTakenError', code: 'EMAIL_TAKEN' });

    const adminMade = await createUser(api);
    const taken = await api.gql(
      SIGN_UP,
      { input: { email: adminMade.email, displayName: 'Mine', password: 'a long enough password' } },
      from(),
    );
    expect(codeOf(taken.data.signUp)).toBe('EMAIL_TAKEN');
    // createUser still answers its own ValidationError for a taken email.
    const dup = await api.admin(
      graphql(`mutation($e: String!) { createUser(input: { email: $e, displayName: "X" }) { __typename
        ... on ValidationError { problems { path message } } } }`),
      { e: first.email },
    );
    expect(dup.data.createUser).toEqual({
      __typename: 'ValidationError',
      problems: [{ path: 'email', message: 'is already registered' }],
    });
  });

  it('ten concurrent sign-ups with one email: exactly one account, the others EMAIL_TAKEN', async () => {
    const email = newEmail('race');
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        api.gql(
          SIGN_UP,
          { input: { email, displayName: `Racer ${i}`, password: `racing password ${i}` } },
          from(),
        ),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    const kinds = results.map((r) => r.data.signUp.__typename);
    expect(kinds.filter((k) => k === 'SignUpSuccess')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'EmailTakenError')).toHaveLength(9);
    expect(await db.query('select count(*)::int as n from users where email = $1', [email])).toEqual([
      { n: 1 },
    ]);
    const [{ n }] = await db.query<{ n: number }>(
      'select count(*)::int as n from auth_session s join users u on u.id = s.user_id where u.email = $1',
      [email],
    );
    expect(n).toBe(1);
  });
});

describe('signIn and signOut', () => {
  it('one answer for a wrong password, an unknown email and a user without a password; the right one opens a session', async () => {
    const user = await signUpUser(api, {}, from());
    const wrong = await signIn(user.email, `${user.password}x`);
    expect(wrong).toMatchObject({ __typename: 'InvalidCredentialsError', code: 'INVALID_CREDENTIALS' });
    const unknown = await signIn(newEmail('nobody'), user.password);
    const adminMade = await createUser(api);
    const noPassword = await signIn(adminMade.email, 'whatever password 123');
    expect(unknown).toEqual(wrong);
    expect(noPassword).toEqual(wrong);

    // Email as typed: case and spaces do not matter. A stale bearer token does not get in the way.
    const signedIn = await signIn(` ${user.email.toUpperCase()} `, user.password, {
      ...from(),
      authorization: 'Bearer hs_stale-token',
    });
    const ok = member(signedIn, 'SignInSuccess');
    expect(ok.user).toEqual({ id: user.id, email: user.email });
    expect(ok.session.token).toMatch(/^hs_/);
    expect(ok.session.token).not.toBe(user.token);
    const me = await api.asUser(ok.session.token, graphql('{ me { id activeSessions } }'));
    expect(me.data.me).toEqual({ id: user.id, activeSessions: 2 });
  });

  it('signOut revokes the session of the bearer token only', async () => {
    const user = await signUpUser(api, {}, from());
    const second = member(await signIn(user.email, user.password), 'SignInSuccess');
    const out = await api.gql(graphql('mutation { signOut }'), {}, bearer(user.token));
    expect(out).toMatchObject({ status: 200, data: { signOut: true } });
    const [row] = await db.query('select revoked_at from auth_session where token_hash = $1', [
      sha256(user.token),
    ]);
    expect(row.revoked_at).toBeInstanceOf(Date);

    for (const query of [graphql('{ me { id } }'), graphql('mutation { signOut }')]) {
      const res = await api.gql(query, {}, bearer(user.token));
      expect(res.status).toBe(401);
      expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    }
    // The other session of the same user still works.
    const me = await api.asUser(second.session.token, graphql('{ me { id } }'));
    expect(me.data.me).toEqual({ id: user.id });
  });

  it('signOut needs a session token', async () => {
    const none = await api.gql(graphql('mutation { signOut }'));
    expect(none.status).toBe(401);
    expect(none.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    const apiToken = await createUser(api);
    const withApiToken = await api.gql(graphql('mutation { signOut }'), {}, bearer(apiToken.token));
    expect(withApiToken.status).toBe(401);
    // …and API tokens keep working for user operations.
    expect((await api.asUser(apiToken.token, graphql('{ me { id } }'))).data.me).toEqual({ id: apiToken.id });
  });

  it('an expired session is refused; last_seen_at moves at most once a minute', async () => {
    const user = await signUpUser(api, {}, from());
    await db.query(
      "update auth_session set last_seen_at = now() - interval '30 seconds' where token_hash = $1",
      [sha256(user.token)],
    );
    const [before] = await db.query('select last_seen_at from auth_session where token_hash = $1', [
      sha256(user.token),
    ]);
    expect((await api.asUser(user.token, graphql('{ me { id } }'))).data.me).toEqual({ id: user.id });
    const [unchanged] = await db.query('select last_seen_at from auth_session where token_hash = $1', [
      sha256(user.token),
    ]);
    expect(unchanged.last_seen_at).toEqual(before.last_seen_at);

    await db.query(
      "update auth_session set last_seen_at = now() - interval '2 minutes' where token_hash = $1",
      [sha256(user.token)],
    );
    await api.asUser(user.token, graphql('{ me { id } }'));
    const [seen] = await db.query<{ age: number }>(
      'select extract(epoch from now() - last_seen_at)::float as age from auth_session where token_hash = $1',
      [sha256(user.token)],
    );
    expect(seen.age).toBeLessThan(30);

    await db.query("update auth_session set expires_at = now() - interval '1 second' where token_hash = $1", [
      sha256(user.token),
    ]);
    const expired = await api.asUser(user.token, graphql('{ me { id } }'));
    expect(expired.status).toBe(401);
    expect(expired.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    expect(expired.errors?.[0].message).toMatch(/invalid or revoked, or its session has expired/);
  });

  it('revokeUserSessions (admin) ends every live session of the user', async () => {
    const user = await signUpUser(api, {}, from());
    const second = member(await signIn(user.email, user.password), 'SignInSuccess');
    const bystander = await signUpUser(api, {}, from());
    const count = await api.admin(
      graphql('query($e: String!) { users(email: $e) { edges { node { activeSessions } } } }'),
      {
        e: user.email,
      },
    );
    expect(count.data.users.edges).toEqual([{ node: { activeSessions: 2 } }]);

    const REVOKE = graphql('mutation($id: ID!) { revokeUserSessions(userId: $id) }');
    expect((await api.asUser(user.token, REVOKE, { id: user.id })).status).toBe(401);
    expect((await api.admin(REVOKE, { id: user.id })).data.revokeUserSessions).toBe(2);
    expect((await api.admin(REVOKE, { id: user.id })).data.revokeUserSessions).toBe(0);
    expect((await api.admin(REVOKE, { id: 'not-a-uuid' })).data.revokeUserSessions).toBe(0);
    for (const token of [user.token, second.session.token]) {
      expect((await api.asUser(token, graphql('{ me { id } }'))).status).toBe(401);
    }
    expect((await api.asUser(bystander.token, graphql('{ me { id } }'))).data.me).toEqual({
      id: bystander.id,
    });
    const after = await api.admin(
      graphql('query($e: String!) { users(email: $e) { edges { node { activeSessions } } } }'),
      {
        e: user.email,
      },
    );
    expect(after.data.users.edges).toEqual([{ node: { activeSessions: 0 } }]);
    // Signing in again works.
    expect((await signIn(user.email, user.password)).__typename).toBe('SignInSuccess');
  });
});

describe('admin sessions', () => {
  const USERS = graphql('{ users(first: 1) { edges { node { id } } } }');

  it('adminSignIn: a wrong secret is refused; a session token works for admin operations until signed out', async () => {
    const wrong = await api.gql(ADMIN_SIGN_IN, { secret: `${api.adminSecret}-nope` }, from());
    expect(wrong.data.adminSignIn).toMatchObject({
      __typename: 'InvalidCredentialsError',
      code: 'INVALID_CREDENTIALS',
    });
    const ok = await api.gql(ADMIN_SIGN_IN, { secret: api.adminSecret }, from());
    const { token } = member(ok.data.adminSignIn, 'AdminSignInSuccess').session;
    expect(token).toMatch(/^ha_[A-Za-z0-9_-]{43}$/);

    const [row] = await db.query('select * from auth_session where token_hash = $1', [sha256(token)]);
    expect(row).toMatchObject({ kind: 'ADMIN', user_id: null, revoked_at: null });
    // Bound to the secret, but not a plain hash of it.
    expect(row.secret_fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(row.secret_fingerprint).not.toBe(sha256(api.adminSecret));

    const asAdmin = await api.gql(USERS, {}, bearer(token));
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.errors).toBeUndefined();
    // x-admin-secret works as before.
    expect((await api.admin(USERS)).errors).toBeUndefined();
    // An admin session is no user.
    expect((await api.gql(graphql('{ me { id } }'), {}, bearer(token))).status).toBe(401);

    expect((await api.gql(graphql('mutation { signOut }'), {}, bearer(token))).data).toEqual({
      signOut: true,
    });
    const afterOut = await api.gql(USERS, {}, bearer(token));
    expect(afterOut.status).toBe(403);
    expect(afterOut.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    // A user session is no admin.
    const user = await signUpUser(api, {}, from());
    expect((await api.gql(USERS, {}, bearer(user.token))).status).toBe(401);
    // Neither secret nor the attempted wrong one reached the log.
    const log = api.process.lines.join('\n');
    expect(log).not.toContain(api.adminSecret);
  });

  it('a session opened with one admin secret is refused by an api running with another', async () => {
    const opened = (await api.gql(ADMIN_SIGN_IN, { secret: api.adminSecret }, from())).data.adminSignIn;
    const token = member(opened, 'AdminSignInSuccess').session.token;
    expect((await api.gql(USERS, {}, bearer(token))).status).toBe(200);
    const elsewhere = await other.gql(USERS, {}, bearer(token));
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect(elsewhere.errors?.[0].message).toMatch(/admin secret has changed/);
    // And the other way round.
    const theirs = (await other.gql(ADMIN_SIGN_IN, { secret: other.adminSecret })).data.adminSignIn;
    expect(
      (await other.gql(USERS, {}, bearer(member(theirs, 'AdminSignInSuccess').session.token))).status,
    ).toBe(200);
    expect(
      (await api.gql(USERS, {}, bearer(member(theirs, 'AdminSignInSuccess').session.token))).status,
    ).toBe(403);
  });
});

describe('rate limits', () => {
  it('the 11th attempt for one email in the window is refused, and then even the right password is', async () => {
    const user = await signUpUser(api, {}, from()); // sign-up counts for the email too: 1
    for (let i = 0; i < 8; i++) {
      expect(codeOf(await signIn(user.email, `wrong password ${i}`))).toBe('INVALID_CREDENTIALS');
    }
    const tenth = await signIn(user.email, user.password);
    expect(tenth.__typename).toBe('SignInSuccess');
    const eleventh = await signIn(user.email, user.password);
    expect(eleventh).toMatchObject({ __typename: 'RateLimitedError', code: 'RATE_LIMITED' });
    const { retryAfterSeconds } = member(eleventh, 'RateLimitedError');
    expect(retryAfterSeconds).toBeGreaterThan(0);
    expect(retryAfterSeconds).toBeLessThanOrEqual(900);
    // Same email in another case or with spaces is the same bucket.
    expect(codeOf(await signIn(` ${user.email.toUpperCase()}`, user.password))).toBe('RATE_LIMITED');
    const [row] = await db.query<{ attempts: number }>(
      `select attempts from auth_rate_limit where bucket = $1 order by window_start desc limit 1`,
      [`email:${user.email}`],
    );
    expect(row.attempts).toBe(12);
    // Another account is not affected.
    const other = await signUpUser(api, {}, from());
    expect((await signIn(other.email, other.password)).__typename).toBe('SignInSuccess');
  });

  it('31 attempts from one address are refused, whatever the email; adminSignIn counts per address too', async () => {
    const ip = freshIp();
    const user = await signUpUser(api, {}, from()); // signed up from elsewhere
    for (let i = 0; i < 29; i++) {
      expect(codeOf(await signIn(newEmail('spray'), 'some password here', from(ip)))).toBe(
        'INVALID_CREDENTIALS',
      );
    }
    expect((await signIn(user.email, user.password, from(ip))).__typename).toBe('SignInSuccess'); // the 30th
    const refused = await signIn(user.email, user.password, from(ip));
    expect(codeOf(refused)).toBe('RATE_LIMITED');
    const admin = await api.gql(ADMIN_SIGN_IN, { secret: api.adminSecret }, from(ip));
    expect(codeOf(admin.data.adminSignIn)).toBe('RATE_LIMITED');
    const signUp = await api.gql(
      SIGN_UP,
      { input: { email: newEmail(), displayName: 'Late', password: 'long enough password' } },
      from(ip),
    );
    expect(codeOf(signUp.data.signUp)).toBe('RATE_LIMITED');
    // Another address is fine.
    expect((await signIn(user.email, user.password, from())).__typename).toBe('SignInSuccess');
  });

  it('X-Forwarded-For is believed from a trusted proxy only, right-most untrusted hop first', async () => {
    const email = newEmail('xff');
    await api.gql(
      SIGN_UP,
      { input: { email, displayName: 'X', password: 'long enough password' } },
      { 'x-forwarded-for': '6.6.6.6, 203.0.113.77, 127.0.0.1' },
    );
    const [trusted] = await db.query(
      'select s.ip from auth_session s join users u on u.id = s.user_id where u.email = $1',
      [email],
    );
    expect(trusted.ip).toBe('203.0.113.77');

    // `other` trusts no proxy: the header is ignored, the peer (127.0.0.1) is the client.
    const spoofed = freshIp();
    const res = await other.gql(
      SIGN_IN,
      { input: { email, password: 'long enough password' } },
      from(spoofed),
    );
    expect(res.data.signIn.__typename).toBe('SignInSuccess');
    const buckets = await db.query<{ bucket: string }>(
      'select bucket from auth_rate_limit where bucket in ($1, $2)',
      [`ip:${spoofed}`, 'ip:127.0.0.1'],
    );
    expect(buckets.map((b) => b.bucket)).toEqual(['ip:127.0.0.1']);
    const [session] = await db.query(
      'select s.ip from auth_session s join users u on u.id = s.user_id where u.email = $1 order by s.created_at desc limit 1',
      [email],
    );
    expect(session.ip).toBe('127.0.0.1');
  });

  it('windows older than a day are deleted when a new window is opened', async () => {
    await db.query(
      "insert into auth_rate_limit (bucket, window_start, attempts) values ('ip:192.0.2.1', now() - interval '2 days', 99), ('ip:192.0.2.2', now() - interval '1 hour', 5)",
    );
    await signIn(newEmail('prune'), 'irrelevant password', from());
    const left = await db.query<{ bucket: string }>(
      "select bucket from auth_rate_limit where bucket in ('ip:192.0.2.1', 'ip:192.0.2.2')",
    );
    expect(left).toEqual([{ bucket: 'ip:192.0.2.2' }]);
  });
});

describe('public operations', () => {
  it('passwordRules needs no credential', async () => {
    const res = await api.gql(
      graphql('{ passwordRules { minLength maxLength mustDifferFromEmail summary } }'),
    );
    expect(res.data.passwordRules).toEqual({
      minLength: 12,
      maxLength: 256,
      mustDifferFromEmail: true,
      summary: '12 to 256 characters, and not your email address',
    });
  });
});

const USERS_PAGE = graphql(`query($after: String, $first: Int, $order: UserOrder) {
  users(first: $first, after: $after, orderBy: $order) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`);

describe('admin lists for the UI', () => {
  const ALLOCATIONS = graphql(`query($first: Int, $after: String, $order: AllocationOrder) {
    allocations(first: $first, after: $after, orderBy: $order) {
      edges { node { id } } pageInfo { hasNextPage endCursor } } }`);

  async function allPages(
    order: VariablesOf<typeof ALLOCATIONS>['order'],
    pageSize: number,
  ): Promise<string[]> {
    const ids: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 100; page++) {
      const res: any = await api.admin(ALLOCATIONS, { first: pageSize, after, ...(order ? { order } : {}) });
      expect(res.errors).toBeUndefined();
      ids.push(...res.data.allocations.edges.map((e: { node: { id: string } }) => e.node.id));
      if (!res.data.allocations.pageInfo.hasNextPage) return ids;
      after = res.data.allocations.pageInfo.endCursor;
    }
    throw new Error('too many pages');
  }

  it('allocations: every order pages through every row once, in order', async () => {
    const ids = await seedAllocations(db, 7, { prefix: `ord${randomBytes(2).toString('hex')}` });
    // Distinct allocation times; expiry times in another order, with a tie (broken by id).
    const expiresHours = [5, 1, 3, 3, 7, 2, 6];
    for (const [i, id] of ids.entries()) {
      await db.query(
        `update vm_allocation set allocated_at = now() - make_interval(hours => $2), expires_at = now() + make_interval(hours => $3) where id = $1`,
        [id, 10 + i, expiresHours[i]],
      );
    }
    const expected: Record<NonNullable<VariablesOf<typeof ALLOCATIONS>['order']>, string> = {
      ALLOCATED_DESC: 'allocated_at desc, id desc',
      ALLOCATED_ASC: 'allocated_at asc, id asc',
      EXPIRES_ASC: 'expires_at asc, id asc',
      EXPIRES_DESC: 'expires_at desc, id desc',
    };
    for (const [order, sql] of Object.entries(expected) as [keyof typeof expected, string][]) {
      const want = (await db.query<{ id: string }>(`select id from vm_allocation order by ${sql}`)).map(
        (r) => r.id,
      );
      expect(await allPages(order, 3), order).toEqual(want);
    }
    // The default is ALLOCATED_DESC, as before.
    const newestFirst = (
      await db.query<{ id: string }>('select id from vm_allocation order by allocated_at desc, id desc')
    ).map((r) => r.id);
    expect(await allPages(undefined, 4)).toEqual(newestFirst);
    // The orders differ for these rows (the test would not notice a wrong order otherwise).
    expect(await allPages('EXPIRES_ASC', 50)).not.toEqual([...newestFirst].reverse());
  });

  it('users: orderBy CREATED_DESC (default), CREATED_ASC, EMAIL_ASC, paged', async () => {
    await signUpUser(api, { email: newEmail('aaa-zz') }, from());
    await signUpUser(api, { email: newEmail('000-first') }, from());
    const page = async (order: VariablesOf<typeof USERS_PAGE>['order'], size: number) => {
      const ids: string[] = [];
      let after: string | null = null;
      for (;;) {
        const res: any = await api.admin(USERS_PAGE, { after, first: size, ...(order ? { order } : {}) });
        ids.push(...res.data.users.edges.map((e: any) => e.node.id));
        if (!res.data.users.pageInfo.hasNextPage) return ids;
        after = res.data.users.pageInfo.endCursor;
      }
    };
    const ids = async (sql: string) =>
      (await db.query<{ id: string }>(`select id from users order by ${sql}`)).map((r) => r.id);
    expect(await page(null, 5)).toEqual(await ids('created_at desc, id desc'));
    expect(await page('CREATED_ASC', 5)).toEqual(await ids('created_at asc, id asc'));
    const byEmail = await page('EMAIL_ASC', 7);
    expect(byEmail).toEqual(await ids('email asc'));
    expect(byEmail).not.toEqual(await ids('created_at asc, id asc'));
  });

  it('VmAllocation.user: the allocation of a signed-up user shows who holds it', async () => {
    const user = await signUpUser(api, { displayName: 'Holder' }, from());
    const result = await allocate(api, user.token);
    const allocationId = member(result, 'AllocateVmSuccess').allocation.id;
    const res = await api.admin(
      graphql(
        `query($u: ID) { allocations(userId: $u) { edges { node { id userId user { id email displayName } } } } }`,
      ),
      { u: user.id },
    );
    expect(res.data.allocations.edges).toEqual([
      {
        node: {
          id: allocationId,
          userId: user.id,
          user: { id: user.id, email: user.email, displayName: 'Holder' },
        },
      },
    ]);
  });

  it('webhookEvents: newest first, filterable by status, with the user when known', async () => {
    const user = await signUpUser(api, {}, from());
    await db.query(
      `insert into webhook_event (provider, event_id, type, status, detail, user_id, received_at) values
        ('stripe', 'evt_old', 'checkout.session.completed', 'APPLIED', 'credited 500 cents', $1, now() - interval '2 hours'),
        ('stripe', 'evt_new', 'charge.refunded', 'REFUSED', 'no such payment', null, now() - interval '1 hour'),
        ('stripe', 'evt_mid', 'customer.created', 'IGNORED', 'event type customer.created is not handled', null, now() - interval '90 minutes')`,
      [user.id],
    );
    const QUERY =
      graphql(`query($status: WebhookEventStatus, $first: Int) { webhookEvents(status: $status, first: $first) {
      edges { node { id provider eventId type status detail userId user { email } receivedAt } } pageInfo { hasNextPage } } }`);
    const all = await api.admin(QUERY, {});
    expect(all.data.webhookEvents.edges.map((e) => e.node.eventId)).toEqual([
      'evt_new',
      'evt_mid',
      'evt_old',
    ]);
    expect(all.data.webhookEvents.edges[2].node).toMatchObject({
      id: 'stripe:evt_old',
      provider: 'stripe',
      type: 'checkout.session.completed',
      status: 'APPLIED',
      detail: 'credited 500 cents',
      userId: user.id,
      user: { email: user.email },
    });
    expect(all.data.webhookEvents.edges[0].node).toMatchObject({
      status: 'REFUSED',
      userId: null,
      user: null,
    });
    const refused = await api.admin(QUERY, { status: 'REFUSED' });
    expect(refused.data.webhookEvents.edges.map((e) => e.node.eventId)).toEqual(['evt_new']);
    const firstTwo = await api.admin(QUERY, { first: 2 });
    expect(firstTwo.data.webhookEvents.pageInfo.hasNextPage).toBe(true);
    // Admin only.
    const asUser = await api.asUser(user.token, QUERY, {});
    expect(asUser.status).toBe(401);
  });
});

describe('user batching on admin pages (in-process handler)', () => {
  /** The statements that read users while the in-process handler answers `query` as admin. */
  async function userQueriesOf(query: string, pick: (data: any) => { user: { id: string } }[]) {
    const queries: string[] = [];
    const orm = await MikroORM.init({
      ...ormConfig({ databaseUrl: db.url, poolMax: 2 }),
      debug: ['query'],
      logger: (message: string) => queries.push(message),
    });
    try {
      const secret = `in-process-${randomBytes(8).toString('hex')}`;
      const yoga = createGraphQLHandler({
        orm,
        adminSecret: secret,
        provisioner: null,
        log: createLogger({ name: 'test', level: 'silent', pretty: false }),
      });
      queries.length = 0;
      const res = await yoga.fetch('http://in-process/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-admin-secret': secret },
        body: JSON.stringify({ query }),
      });
      const body = (await res.json()) as any;
      expect(body.errors).toBeUndefined();
      const nodes = pick(body.data);
      return { nodes, userQueries: queries.filter((q) => /(from|join) "users"/.test(q)), queries };
    } finally {
      await orm.close();
    }
  }

  it('a page of 50 allocations loads its 50 users with one query', async () => {
    await seedAllocations(db, 50, { prefix: `dl${randomBytes(2).toString('hex')}` });
    const { nodes, userQueries, queries } = await userQueriesOf(
      '{ allocations(first: 50) { edges { node { id userId user { id email } } } } }',
      (data) => data.allocations.edges.map((e: any) => e.node),
    );
    expect(nodes).toHaveLength(50);
    for (const n of nodes as any[]) expect(n.user.id).toBe(n.userId);
    expect(new Set(nodes.map((n) => n.user.id)).size).toBe(50);
    expect(userQueries, queries.join('\n')).toHaveLength(1);
  });

  it('a page of 20 payments from 20 users reads them in its own statement', async () => {
    const users = await Promise.all(Array.from({ length: 20 }, () => createUser(api, { plan: false })));
    for (const [i, u] of users.entries()) await recordPayment(api, u.id, 100 + i);
    const { nodes, userQueries, queries } = await userQueriesOf(
      '{ payments(first: 20) { edges { node { id user { id email } } } } }',
      (data) => data.payments.edges.map((e: any) => e.node),
    );
    expect(new Set(nodes.map((n) => n.user.id))).toEqual(new Set(users.map((u) => u.id)));
    // The page's own statement joins the users: none is read apart.
    expect(userQueries, queries.join('\n')).toHaveLength(1);
    expect(userQueries[0]).toMatch(/from "payment_event"/);
  });
});
