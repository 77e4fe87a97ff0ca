import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { allocate, createUser, poolOf, signUpUser } from './support/factories.ts';
import { codeOf, graphql, member } from './support/graphql.ts';

let db: TestDatabase;
let api: ApiProcess;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startApi({ databaseUrl: db.url, env: { VM_POOL_JSON: JSON.stringify(poolOf(2)) } });
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

const CREATE = graphql(`mutation CreateApiToken($name: String!, $expiresAt: DateTime) {
  createApiToken(name: $name, expiresAt: $expiresAt) { __typename
    ... on CreateApiTokenSuccess { token apiToken { id name createdAt expiresAt lastUsedAt } }
    ... on ValidationError { problems { path message } }
    ... on Error { code message } } }`);
const LIST = graphql('{ apiTokens { id name createdAt expiresAt lastUsedAt } }');
const REVOKE = graphql(`mutation RevokeApiToken($id: ID!) { revokeApiToken(id: $id) { __typename
  ... on RevokeApiTokenSuccess { apiToken { id name } }
  ... on Error { code message } } }`);
const ME = graphql('{ me { id } }');
const ADMIN_CREATE = graphql(`mutation AdminCreateApiToken($userId: ID!, $name: String!) {
  createUserApiToken(userId: $userId, name: $name) { __typename
    ... on CreateApiTokenSuccess { token apiToken { id name } }
    ... on Error { code message } } }`);
const ADMIN_LIST = graphql(
  'query AdminUserTokens($id: ID!) { user(id: $id) { apiTokens { id name lastUsedAt } } }',
);
const ADMIN_REVOKE = graphql(`mutation AdminRevokeApiToken($userId: ID!, $id: ID!) {
  revokeUserApiToken(userId: $userId, id: $id) { __typename
    ... on RevokeUserApiTokenSuccess { apiToken { id } }
    ... on Error { code message } } }`);

describe('API tokens', () => {
  it('lifecycle: a signed-up user creates one, uses it, sees its last use, revokes it; then 401', async () => {
    const user = await signUpUser(api);
    const created = member(
      (await api.asUser(user.token, CREATE, { name: ' deploy bot ' })).data?.createApiToken,
      'CreateApiTokenSuccess',
    );
    expect(created.token).toMatch(/^hero_/);
    expect(created.apiToken).toMatchObject({ name: 'deploy bot', expiresAt: null, lastUsedAt: null });

    const used = await api.asUser(created.token, ME);
    expect(used.status).toBe(200);
    expect(used.data?.me.id).toBe(user.id);

    const listed = (await api.asUser(user.token, LIST)).data?.apiTokens ?? [];
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ id: created.apiToken.id, name: 'deploy bot' });
    expect(Date.parse(listed[0].lastUsedAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
    // The list never carries the token or its hash.
    expect(JSON.stringify(listed)).not.toContain(created.token.slice(5, 20));
    const [stored] = await db.query<{ token_hash: string }>(
      'select token_hash from api_token where id = $1',
      [created.apiToken.id],
    );
    expect(JSON.stringify(listed)).not.toContain(stored.token_hash);

    const revoked = member(
      (await api.asUser(user.token, REVOKE, { id: created.apiToken.id })).data?.revokeApiToken,
      'RevokeApiTokenSuccess',
    );
    expect(revoked.apiToken.id).toBe(created.apiToken.id);
    const refused = await api.asUser(created.token, ME);
    expect(refused.status).toBe(401);
    expect(refused.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    expect((await api.asUser(user.token, LIST)).data?.apiTokens).toEqual([]);
  });

  it('an expired token is refused with 401', async () => {
    const user = await signUpUser(api);
    const created = member(
      (
        await api.asUser(user.token, CREATE, {
          name: 'short',
          expiresAt: new Date(Date.now() + 60_000).toISOString(),
        })
      ).data?.createApiToken,
      'CreateApiTokenSuccess',
    );
    expect((await api.asUser(created.token, ME)).status).toBe(200);
    await db.query(`update api_token set expires_at = now() - interval '1 second' where id = $1`, [
      created.apiToken.id,
    ]);
    const refused = await api.asUser(created.token, ME);
    expect(refused.status).toBe(401);
    expect(refused.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  it("another user's token id is NOT_FOUND and stays usable; bad input is BAD_USER_INPUT and stores nothing", async () => {
    const owner = await createUser(api);
    const other = await signUpUser(api);
    const [ownersToken] = (await api.asUser(owner.token, LIST)).data?.apiTokens ?? [];
    expect(ownersToken.name).toBe('created by operator');
    const attempt = (await api.asUser(other.token, REVOKE, { id: ownersToken.id })).data?.revokeApiToken;
    expect(codeOf(attempt)).toBe('NOT_FOUND');
    expect((await api.asUser(owner.token, ME)).status).toBe(200);
    expect(codeOf((await api.asUser(other.token, REVOKE, { id: 'nope' })).data?.revokeApiToken)).toBe(
      'NOT_FOUND',
    );

    const blank = (await api.asUser(other.token, CREATE, { name: '   ' })).data?.createApiToken;
    expect(member(blank, 'ValidationError').problems).toEqual([{ path: '', message: 'must not be empty' }]);
    const long = (await api.asUser(other.token, CREATE, { name: 'x'.repeat(101) })).data?.createApiToken;
    expect(codeOf(long)).toBe('BAD_USER_INPUT');
    const past = (
      await api.asUser(other.token, CREATE, {
        name: 'late',
        expiresAt: new Date(Date.now() - 1000).toISOString(),
      })
    ).data?.createApiToken;
    expect(member(past, 'ValidationError').problems).toEqual([
      { path: 'expiresAt', message: 'must be in the future' },
    ]);
    expect((await api.asUser(other.token, LIST)).data?.apiTokens).toEqual([]);
  });

  it('an operator creates a token for a user, sees it on the user, and revokes it; unknown user NOT_FOUND', async () => {
    const user = await signUpUser(api);
    const created = member(
      (await api.admin(ADMIN_CREATE, { userId: user.id, name: 'issued by ops' })).data?.createUserApiToken,
      'CreateApiTokenSuccess',
    );
    expect((await api.asUser(created.token, ME)).data?.me.id).toBe(user.id);
    const listed = (await api.admin(ADMIN_LIST, { id: user.id })).data?.user?.apiTokens ?? [];
    expect(listed.map((t) => t.name)).toEqual(['issued by ops']);
    const other = await signUpUser(api);
    expect(
      codeOf(
        (await api.admin(ADMIN_REVOKE, { userId: other.id, id: created.apiToken.id })).data
          ?.revokeUserApiToken,
      ),
    ).toBe('NOT_FOUND');
    member(
      (await api.admin(ADMIN_REVOKE, { userId: user.id, id: created.apiToken.id })).data?.revokeUserApiToken,
      'RevokeUserApiTokenSuccess',
    );
    expect((await api.asUser(created.token, ME)).status).toBe(401);
    for (const userId of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const res = await api.admin(ADMIN_CREATE, { userId, name: 'x' });
      expect(res.status).toBe(200);
      expect(codeOf(res.data?.createUserApiToken)).toBe('NOT_FOUND');
    }
  });

  it("createUser's token is an API token that allocates, and the operations need a user", async () => {
    const user = await createUser(api);
    expect(member(await allocate(api, user.token), 'AllocateVmSuccess').allocation.id).toBeTruthy();
    const anonymous = await api.gql(LIST);
    expect(anonymous.status).toBe(401);
    expect(anonymous.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });
});
