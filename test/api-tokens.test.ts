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

  it("createUser's token is an API token that allocates, and the operations need a user", async () => {
    const user = await createUser(api);
    expect(member(await allocate(api, user.token), 'AllocateVmSuccess').allocation.id).toBeTruthy();
    const anonymous = await api.gql(LIST);
    expect(anonymous.status).toBe(401);
    expect(anonymous.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });
});
