import { randomBytes } from 'node:crypto';
import { schema } from '@hero/api/schema';
import { getNamedType, isLeafType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { runCli } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { ADMIN_SIGN_IN, createUser, SIGN_IN, signUpUser } from './support/factories.ts';
import { graphql, member } from './support/graphql.ts';
import { outcomeLine, spawnTs } from './support/process.ts';

let db: TestDatabase;
let api: ApiProcess;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startApi({ databaseUrl: db.url });
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

interface AuditDbRow {
  actor_kind: string;
  actor_id: string | null;
  role: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  input: unknown;
  outcome: string;
  request_id: string | null;
  client_ip: string | null;
}

const requestId = () => `audit-${randomBytes(6).toString('hex')}`;
const rowsOf = (id: string) => db.query<AuditDbRow>('select * from audit_log where request_id = $1', [id]);
const rowText = (id: string) =>
  db.query<{ t: string }>('select row_to_json(a)::text as t from audit_log a where request_id = $1', [id]);
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

const ADMIN_RIGHTS = ['adminRead', 'operate', 'billing', 'owner'];

/** Every admin-scoped mutation (scope-auth asks for an operator right), from the schema itself. */
function adminMutations(): string[] {
  const fields = schema.getMutationType()?.getFields() ?? {};
  return Object.values(fields)
    .filter((f) => {
      const scopes = (f.extensions as { pothosOptions?: { authScopes?: Record<string, unknown> } })
        .pothosOptions?.authScopes;
      return ADMIN_RIGHTS.some((right) => scopes?.[right] === true);
    })
    .map((f) => f.name)
    .sort();
}

/** Arguments for each admin mutation (valid in shape; most name nothing that exists, so they fail). */
const ARGS: Record<string, string> = {
  adjustBalance: `(input: { userId: "${UNKNOWN_ID}", amountCents: 100, note: "audit" })`,
  aggregateNow: '',
  autoReleaseNow: '',
  changeOperatorPassword: '(input: { currentPassword: "audited current", newPassword: "audited new one" })',
  createOperator: '(input: { email: "EMAIL", role: VIEWER })',
  createUser: '(input: { email: "EMAIL", displayName: "Audited" })',
  createUserApiToken: `(userId: "${UNKNOWN_ID}", name: "audit")`,
  deleteUser: `(userId: "${UNKNOWN_ID}", confirmEmail: "gone@example.org")`,
  extendAllocation: `(id: "${UNKNOWN_ID}", expiresAt: "2099-01-01T00:00:00Z", reason: "audit")`,
  reconcileBalancesNow: '',
  recordPayment: `(input: { userId: "${UNKNOWN_ID}", amountCents: 100, currency: "EUR", providerRef: "ref-1" })`,
  refreshPool: '(input: { vms: [] })',
  refundPayment: `(input: { paymentId: "${UNKNOWN_ID}" })`,
  releaseAllocation: `(id: "${UNKNOWN_ID}")`,
  removeOperator: `(id: "${UNKNOWN_ID}")`,
  resendInvitation: `(userId: "${UNKNOWN_ID}")`,
  revokeUserApiToken: `(userId: "${UNKNOWN_ID}", id: "${UNKNOWN_ID}")`,
  revokeUserSessions: `(userId: "${UNKNOWN_ID}")`,
  setOperatorRole: `(id: "${UNKNOWN_ID}", role: VIEWER)`,
  setUserQuota: `(userId: "${UNKNOWN_ID}", vmQuota: 1)`,
  suspendUser: `(userId: "${UNKNOWN_ID}", reason: "audit")`,
  unsuspendUser: `(userId: "${UNKNOWN_ID}")`,
};

function mutationText(name: string): string {
  const field = schema.getMutationType()?.getFields()[name];
  if (!field) throw new Error(`no mutation ${name}`);
  const selection = isLeafType(getNamedType(field.type)) ? '' : '{ __typename }';
  const args = (ARGS[name] ?? '').replace('EMAIL', `audited-${randomBytes(4).toString('hex')}@example.org`);
  return `mutation { ${name}${args} ${selection} }`;
}

describe('audit log', () => {
  it('covers every admin mutation of the schema', () => {
    expect(Object.keys(ARGS).sort()).toEqual(adminMutations());
  });

  it.each(Object.keys(ARGS))(
    '%s writes exactly one row with its actor, whatever the outcome',
    async (name) => {
      for (const [credential, kind, headers] of [
        ['secret', 'admin-secret', { 'x-admin-secret': api.adminSecret }],
        ['none', 'anonymous', {}],
      ] as const) {
        const id = requestId();
        const res = await api.raw(mutationText(name), {}, { ...headers, 'x-request-id': id });
        expect(res.status, `${name} as ${credential}`).toBeLessThan(600);
        const rows = await rowsOf(id);
        expect(rows, `${name} as ${credential}`).toHaveLength(1);
        const row = rows[0];
        expect(row).toMatchObject({ action: name, actor_kind: kind, request_id: id });
        expect(row?.client_ip).toBeTruthy();
        if (credential === 'secret') {
          expect(row?.role).toBe('owner');
          const answered =
            res.errors?.[0]?.extensions?.code ??
            (res.data?.[name]?.__typename?.endsWith('Error') ? 'error' : 'ok');
          if (answered === 'ok') expect(row?.outcome).toBe('ok');
          else expect(row?.outcome).not.toBe('ok');
        } else {
          expect(row?.outcome).toBe('UNAUTHENTICATED');
        }
        expect((await rowText(id))[0]?.t).not.toContain(api.adminSecret);
      }
    },
  );

  it('records the admin session as the actor of a mutation made with it', async () => {
    const signedIn = await api.gql(ADMIN_SIGN_IN, { secret: api.adminSecret });
    const token = member(signedIn.data.adminSignIn, 'AdminSignInSuccess').session.token;
    const id = requestId();
    await api.raw(
      mutationText('reconcileBalancesNow'),
      {},
      { authorization: `Bearer ${token}`, 'x-request-id': id },
    );
    const [row] = await rowsOf(id);
    expect(row).toMatchObject({ actor_kind: 'admin-session', role: 'owner', outcome: 'ok' });
    expect(row?.actor_id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await rowText(id))[0]?.t).not.toContain(token);
  });

  it('names the target and keeps the created token out of the row', async () => {
    const id = requestId();
    const res = await api.raw(
      'mutation { createUser(input: { email: "target-audit@example.org", displayName: "T" }) { ... on CreateUserSuccess { payload { token user { id } } } } }',
      {},
      { 'x-admin-secret': api.adminSecret, 'x-request-id': id },
    );
    const payload = res.data.createUser.payload as { token: string; user: { id: string } };
    const [row] = await rowsOf(id);
    expect(row).toMatchObject({ target_type: 'user', target_id: payload.user.id, outcome: 'ok' });
    expect(row?.input).toEqual({ input: { email: 'target-audit@example.org', displayName: 'T' } });
    expect((await rowText(id))[0]?.t).not.toContain(payload.token);
    // The API names the target user (the admin table shows the email); the admin secret is no user.
    const listed = await api.admin(
      graphql(`query AuditTarget($targetId: String) { auditLog(targetId: $targetId) {
        edges { node { action actorUser { email } targetUser { email } } } } }`),
      { targetId: payload.user.id },
    );
    expect(listed.data.auditLog.edges.map((e) => e.node)).toContainEqual({
      action: 'createUser',
      actorUser: null,
      targetUser: { email: 'target-audit@example.org' },
    });
  });

  it('names the user a lifecycle mutation targets and keeps the confirmation email out', async () => {
    const id = requestId();
    await api.raw(
      `mutation { deleteUser(userId: "${UNKNOWN_ID}", confirmEmail: "erased@example.org") { __typename } }`,
      {},
      { 'x-admin-secret': api.adminSecret, 'x-request-id': id },
    );
    const [row] = await rowsOf(id);
    expect(row).toMatchObject({ target_type: 'user', target_id: UNKNOWN_ID, outcome: 'NOT_FOUND' });
    expect((await rowText(id))[0]?.t).not.toContain('erased@example.org');
  });

  it('records adminSignIn (a use of the secret) and failed sign-ins without the secret or password', async () => {
    const ok = requestId();
    await api.gql(ADMIN_SIGN_IN, { secret: api.adminSecret }, { 'x-request-id': ok });
    const [okRow] = await rowsOf(ok);
    expect(okRow).toMatchObject({
      action: 'adminSignIn',
      actor_kind: 'admin-secret',
      outcome: 'ok',
      target_type: 'session',
    });
    expect((await rowText(ok))[0]?.t).not.toContain(api.adminSecret);

    const wrongSecret = `wrong-${randomBytes(8).toString('hex')}`;
    const bad = requestId();
    await api.gql(ADMIN_SIGN_IN, { secret: wrongSecret }, { 'x-request-id': bad });
    const [badRow] = await rowsOf(bad);
    expect(badRow).toMatchObject({
      action: 'auth.sign_in_failed',
      actor_kind: 'anonymous',
      outcome: 'INVALID_CREDENTIALS',
    });
    expect(badRow?.input).toEqual({ secret: '[redacted]' });
    expect((await rowText(bad))[0]?.t).not.toContain(wrongSecret);

    const user = await signUpUser(api);
    const wrongPassword = `not-it-${randomBytes(8).toString('hex')}`;
    const failed = requestId();
    await api.gql(
      SIGN_IN,
      { input: { email: user.email, password: wrongPassword } },
      { 'x-request-id': failed },
    );
    const [failedRow] = await rowsOf(failed);
    expect(failedRow).toMatchObject({ action: 'auth.sign_in_failed', outcome: 'INVALID_CREDENTIALS' });
    expect(failedRow?.input).toEqual({ input: { email: user.email, password: '[redacted]' } });
    expect((await rowText(failed))[0]?.t).not.toContain(wrongPassword);

    // A successful user sign-in is not a security event.
    const fine = requestId();
    await api.gql(
      SIGN_IN,
      { input: { email: user.email, password: user.password } },
      { 'x-request-id': fine },
    );
    expect(await rowsOf(fine)).toHaveLength(0);
  });

  it('answers auditLog to admins only, filtered and paged', async () => {
    await createUser(api);
    const AUDIT = graphql(`query Audit($action: String, $first: Int, $after: String) {
      auditLog(action: $action, first: $first, after: $after) {
        edges { node { id action actorKind role outcome input } }
        pageInfo { hasNextPage endCursor } } }`);
    const page = await api.admin(AUDIT, { action: 'createUser', first: 1 });
    expect(page.data.auditLog.edges).toHaveLength(1);
    expect(page.data.auditLog.edges[0]?.node).toMatchObject({
      action: 'createUser',
      actorKind: 'ADMIN_SECRET',
    });
    expect(page.data.auditLog.pageInfo.hasNextPage).toBe(true);
    const next = await api.admin(AUDIT, {
      action: 'createUser',
      first: 1,
      after: page.data.auditLog.pageInfo.endCursor,
    });
    expect(Number(next.data.auditLog.edges[0]?.node.id)).toBeLessThan(
      Number(page.data.auditLog.edges[0]?.node.id),
    );
    const anonymous = await api.gql(AUDIT, {});
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('the reconcile worker purges rows older than AUDIT_RETENTION_DAYS, and only those', async () => {
    const oldId = requestId();
    const keptId = requestId();
    for (const id of [oldId, keptId])
      await api.raw(
        mutationText('reconcileBalancesNow'),
        {},
        { 'x-admin-secret': api.adminSecret, 'x-request-id': id },
      );
    // Back-dating needs the trigger off: test setup, as only a database owner could.
    await db.query(`
      begin;
      alter table audit_log disable trigger audit_log_append_only;
      update audit_log set created_at = now() - interval '3 days' where request_id = '${oldId}';
      alter table audit_log enable trigger audit_log_append_only;
      commit;`);
    const once = spawnTs('workers/src/main.ts', ['reconcile', '--once'], {
      DATABASE_URL: db.url,
      AUDIT_RETENTION_DAYS: '2',
    });
    expect(await once.exited).toBe(0);
    expect(outcomeLine(once.lines)).toMatchObject({
      job: 'reconcile',
      status: 'SUCCEEDED',
      summary: { auditPurged: 1 },
    });
    expect(await rowsOf(oldId)).toHaveLength(0);
    expect(await rowsOf(keptId)).toHaveLength(1);
  });

  it('hero-admin audit list shows the entries, filtered by action and time, as a table and as JSON', async () => {
    const user = await createUser(api);
    const table = await runCli(api, ['audit', 'list', '--action', 'createUser', '--limit', '1']);
    expect(table.stderr).toBe('');
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+AT\s+ACTOR\s+ACTION\s+TARGET\s+OUTCOME/);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(`user:${user.id}`);
    expect(lines[1]).toMatch(/ADMIN_SECRET\s+createUser/);

    const json = await runCli(api, [
      'audit',
      'list',
      '--action',
      'createUser',
      '--since',
      '2999-01-01T00:00:00Z',
      '--json',
    ]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([]);
    const bad = await runCli(api, ['audit', 'list', '--since', 'yesterday']);
    expect(bad.code).toBe(2);
  });

  it("records a user's token creation and revocation with the token as target, never its value", async () => {
    const user = await signUpUser(api);
    const auth = { authorization: `Bearer ${user.token}` };
    const made = requestId();
    const res = await api.raw(
      'mutation { createApiToken(name: "ci deploy") { ... on CreateApiTokenSuccess { token apiToken { id } } } }',
      {},
      { ...auth, 'x-request-id': made },
    );
    const created = res.data.createApiToken as { token: string; apiToken: { id: string } };
    const [madeRow] = await rowsOf(made);
    expect(madeRow).toMatchObject({
      action: 'createApiToken',
      actor_kind: 'user',
      actor_id: user.id,
      target_type: 'api_token',
      target_id: created.apiToken.id,
      outcome: 'ok',
    });
    expect(madeRow?.input).toEqual({ name: 'ci deploy' });
    expect((await rowText(made))[0]?.t).not.toContain(created.token);

    const revoked = requestId();
    await api.raw(
      `mutation { revokeApiToken(id: "${created.apiToken.id}") { __typename } }`,
      {},
      { ...auth, 'x-request-id': revoked },
    );
    expect(await rowsOf(revoked)).toMatchObject([
      { action: 'revokeApiToken', actor_id: user.id, target_id: created.apiToken.id, outcome: 'ok' },
    ]);
    const again = requestId();
    await api.raw(
      `mutation { revokeApiToken(id: "${created.apiToken.id}") { __typename } }`,
      {},
      { ...auth, 'x-request-id': again },
    );
    expect(await rowsOf(again)).toMatchObject([{ action: 'revokeApiToken', outcome: 'NOT_FOUND' }]);
  });

  it('records password reset requests and uses without the token or the new password', async () => {
    const user = await signUpUser(api);
    const asked = requestId();
    await api.raw(
      `mutation { requestPasswordReset(email: "${user.email}") { __typename } }`,
      {},
      { 'x-request-id': asked },
    );
    const [askedRow] = await rowsOf(asked);
    expect(askedRow).toMatchObject({
      action: 'requestPasswordReset',
      actor_kind: 'anonymous',
      outcome: 'ok',
    });
    expect(askedRow?.input).toEqual({ email: user.email });

    const token = `prt_${randomBytes(16).toString('hex')}`;
    const newPassword = `np-${randomBytes(8).toString('hex')}`;
    const used = requestId();
    await api.raw(
      `mutation { resetPassword(input: { token: "${token}", newPassword: "${newPassword}" }) { __typename } }`,
      {},
      { 'x-request-id': used },
    );
    const [usedRow] = await rowsOf(used);
    expect(usedRow).toMatchObject({ action: 'resetPassword', outcome: 'RESET_TOKEN_INVALID' });
    expect(usedRow?.input).toEqual({ input: { token: '[redacted]', newPassword: '[redacted]' } });
    const text = (await rowText(used))[0]?.t;
    expect(text).not.toContain(token);
    expect(text).not.toContain(newPassword);
  });
});
