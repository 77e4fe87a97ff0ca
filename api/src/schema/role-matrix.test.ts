import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_AUTH_SETTINGS } from '@hero/core/auth/sessions';
import { createLogger } from '@hero/core/lib/logger';
import { createOperator, operatorSignIn } from '@hero/core/operators/operators';
import { useTestDatabase } from '@hero/core/testing/database';
import { createTestUser, uniqueTag } from '@hero/core/testing/factories';
import {
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
} from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { createGraphQLHandler } from '../http/server.ts';
import { adminRightsOf } from './audit-plugin.ts';
import { schema } from './index.ts';

/**
 * The role matrix, as specified: which right each admin field asks for. `read`: every operator
 * role; `operate`: owner and operator; `billing`: owner and billing; `money-job`: owner,
 * operator and billing; `owner`: owner only. A new admin field without an entry fails the
 * first test.
 */
const SPEC: Record<string, 'read' | 'read+user' | 'operate' | 'billing' | 'money-job' | 'owner'> = {
  // Queries
  adminMe: 'read',
  aggregatorState: 'read',
  allocations: 'read',
  auditLog: 'read',
  billing: 'read',
  consumedRecords: 'read',
  jobRuns: 'read',
  ledger: 'read',
  operators: 'owner',
  overview: 'read',
  payments: 'read',
  plans: 'read+user',
  pool: 'read',
  provisioner: 'read',
  quietJobRuns: 'read',
  quotePlan: 'read+user',
  rejectedRecords: 'read',
  user: 'read',
  userStatement: 'read',
  users: 'read',
  webhookEvents: 'read',
  // Mutations
  adjustBalance: 'billing',
  changeOperatorPassword: 'read',
  aggregateNow: 'operate',
  autoReleaseNow: 'operate',
  createOperator: 'owner',
  createUser: 'operate',
  createUserApiToken: 'operate',
  deleteUser: 'operate',
  extendAllocation: 'operate',
  reconcileBalancesNow: 'money-job',
  recordPayment: 'billing',
  refreshPool: 'operate',
  refundPayment: 'billing',
  releaseAllocation: 'operate',
  removeOperator: 'owner',
  resendInvitation: 'operate',
  revokeUserApiToken: 'operate',
  revokeUserSessions: 'operate',
  setOperatorRole: 'owner',
  setUserQuota: 'operate',
  suspendUser: 'operate',
  unsuspendUser: 'operate',
};

type Caller = 'owner' | 'operator' | 'billing' | 'viewer' | 'secret' | 'none' | 'user' | 'demoted';
const CALLERS: Caller[] = ['owner', 'operator', 'billing', 'viewer', 'secret', 'none', 'user'];

const ALLOWED: Record<(typeof SPEC)[string], readonly Caller[]> = {
  read: ['owner', 'operator', 'billing', 'viewer', 'secret'],
  'read+user': ['owner', 'operator', 'billing', 'viewer', 'secret', 'user'],
  operate: ['owner', 'operator', 'secret'],
  billing: ['owner', 'billing', 'secret'],
  'money-job': ['owner', 'operator', 'billing', 'secret'],
  owner: ['owner', 'secret'],
};

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
const ADMIN_SECRET = `matrix-secret-${'x'.repeat(24)}`;

/** The admin root fields of the schema, by their scope-auth options. */
function adminFields(): {
  name: string;
  operation: 'query' | 'mutation';
  field: GraphQLField<unknown, unknown>;
}[] {
  return (['query', 'mutation'] as const).flatMap((operation) => {
    const type = operation === 'query' ? schema.getQueryType() : schema.getMutationType();
    return Object.values(type?.getFields() ?? {})
      .filter(
        (f) =>
          adminRightsOf({ pothosOptions: (f.extensions as { pothosOptions?: object }).pothosOptions ?? {} })
            .length > 0,
      )
      .map((field) => ({ name: field.name, operation, field }));
  });
}

/** A literal of the type, valid in shape (ids name nothing; strings are no valid email). */
function literal(type: GraphQLInputType): string {
  if (isNonNullType(type)) return literal(type.ofType);
  if (isListType(type)) return '[]';
  if (isEnumType(type)) return type.getValues()[0]!.name;
  if (isInputObjectType(type)) {
    const all = Object.values(type.getFields());
    // A @oneOf input takes exactly one of its fields.
    const fields = type.isOneOf ? all.slice(0, 1) : all.filter((f) => isNonNullType(f.type));
    return `{ ${fields.map((f) => `${f.name}: ${literal(f.type)}`).join(', ')} }`;
  }
  switch (getNamedType(type).name) {
    case 'ID':
      return `"${UNKNOWN_ID}"`;
    case 'Int':
    case 'SafeInt':
      return '1';
    case 'Boolean':
      return 'false';
    case 'DateTime':
      return '"2099-01-01T00:00:00Z"';
    default:
      return '"matrix"';
  }
}

function operationText(operation: string, field: GraphQLField<unknown, unknown>): string {
  const required = field.args.filter((a: GraphQLArgument) => isNonNullType(a.type));
  const args = required.length ? `(${required.map((a) => `${a.name}: ${literal(a.type)}`).join(', ')})` : '';
  const selection = isLeafType(getNamedType(field.type)) ? '' : '{ __typename }';
  return `${operation} { ${field.name}${args} ${selection} }`;
}

const t = useTestDatabase({ poolMax: 4 });
let yoga: ReturnType<typeof createGraphQLHandler>;
const headers: Record<Caller, Record<string, string>> = {
  owner: {},
  operator: {},
  billing: {},
  viewer: {},
  secret: { 'x-admin-secret': ADMIN_SECRET },
  none: {},
  user: {},
  demoted: {},
};
const operatorIds: Partial<Record<Caller, string>> = {};

beforeAll(async () => {
  yoga = createGraphQLHandler({
    orm: t.orm,
    adminSecret: ADMIN_SECRET,
    provisioner: null,
    log: createLogger({ name: 'role-matrix', level: 'silent', pretty: false }),
  });
  for (const role of ['owner', 'operator', 'billing', 'viewer'] as const) {
    const email = `${role}-${uniqueTag()}@example.org`;
    operatorIds[role] = (await createOperator(t.em(), { email, role, password: 'correct horse battery' })).id;
    const { session } = await operatorSignIn(
      t.em(),
      { email, password: 'correct horse battery' },
      { settings: DEFAULT_AUTH_SETTINGS, client: { ip: `10.3.${uniqueTag()}`, userAgent: null } },
    );
    headers[role] = { authorization: `Bearer ${session.token}` };
  }
  const user = await createTestUser(t.em());
  headers.user = { authorization: `Bearer ${user.token}` };
});

async function call(query: string, caller: Caller) {
  const res = await yoga.fetch('http://matrix.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers[caller] },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as {
    data?: Record<string, unknown> | null;
    errors?: { extensions?: { code?: string } }[];
  };
}

describe('operators in the API', () => {
  it('adminMe answers the operator, its role and rights; the secret is break-glass owner', async () => {
    const query = '{ adminMe { email role breakGlass rights { operate billing owner } } }';
    expect((await call(query, 'billing')).data?.adminMe).toMatchObject({
      role: 'BILLING',
      breakGlass: false,
      rights: { operate: false, billing: true, owner: false },
    });
    expect((await call(query, 'secret')).data?.adminMe).toEqual({
      email: null,
      role: 'OWNER',
      breakGlass: true,
      rights: { operate: true, billing: true, owner: true },
    });
  });

  it("an operator's mutation is audited with the operator and role; the secret's as owner", async () => {
    await call(`mutation { revokeUserSessions(userId: "${UNKNOWN_ID}") }`, 'operator');
    await call(`mutation { revokeUserSessions(userId: "${UNKNOWN_ID}") }`, 'secret');
    const rows = await t.query<{ actor_kind: string; actor_id: string | null; role: string }>(
      `select actor_kind, actor_id, role from audit_log where action = 'revokeUserSessions' order by id`,
    );
    expect(rows.slice(-2)).toEqual([
      { actor_kind: 'operator', actor_id: operatorIds.operator, role: 'operator' },
      { actor_kind: 'admin-secret', actor_id: null, role: 'owner' },
    ]);
  });

  it('operatorSignIn is audited: the operator on success, the email (never the password) on failure', async () => {
    const email = `audited-${uniqueTag()}@example.org`;
    const { id } = await createOperator(t.em(), { email, role: 'viewer', password: 'correct horse battery' });
    const signIn = (password: string) =>
      call(
        `mutation { operatorSignIn(input: { email: "${email}", password: "${password}" }) { __typename } }`,
        'none',
      );
    await signIn('wrong password here');
    await signIn('correct horse battery');
    const rows = await t.query<{
      action: string;
      actor_kind: string;
      actor_id: string | null;
      role: string | null;
      t: string;
    }>(
      `select action, actor_kind, actor_id, role, row_to_json(a)::text as t from audit_log a
        where input::text like $1 order by id`,
      [`%${email}%`],
    );
    expect(rows.map(({ t: _, ...r }) => r)).toEqual([
      { action: 'auth.sign_in_failed', actor_kind: 'anonymous', actor_id: null, role: null },
      { action: 'operatorSignIn', actor_kind: 'operator', actor_id: id, role: 'viewer' },
    ]);
    for (const row of rows) expect(row.t).not.toContain('correct horse');
    for (const row of rows) expect(row.t).not.toContain('wrong password');
  });

  it('an operator changes their own password; the old one stops working', async () => {
    const email = `changer-${uniqueTag()}@example.org`;
    await createOperator(t.em(), { email, role: 'viewer', password: 'correct horse battery' });
    const signIn = async (password: string) =>
      (
        await call(
          `mutation { operatorSignIn(input: { email: "${email}", password: "${password}" }) { __typename ... on OperatorSignInSuccess { session { token } } } }`,
          'none',
        )
      ).data?.operatorSignIn as { __typename: string; session?: { token: string } };
    const first = await signIn('correct horse battery');
    headers.demoted = { authorization: `Bearer ${first.session?.token}` };
    const change = (current: string) =>
      call(
        `mutation { changeOperatorPassword(input: { currentPassword: "${current}", newPassword: "a new long passphrase" }) { __typename } }`,
        'demoted',
      );
    expect((await change('not the password')).data?.changeOperatorPassword).toEqual({
      __typename: 'InvalidCredentialsError',
    });
    expect((await change('correct horse battery')).data?.changeOperatorPassword).toEqual({
      __typename: 'ChangePasswordSuccess',
    });
    expect((await signIn('correct horse battery')).__typename).toBe('InvalidCredentialsError');
    expect((await signIn('a new long passphrase')).__typename).toBe('OperatorSignInSuccess');
    const bySecret = await call(
      'mutation { changeOperatorPassword(input: { currentPassword: "x", newPassword: "y" }) { __typename } }',
      'secret',
    );
    expect(bySecret.data?.changeOperatorPassword).toEqual({ __typename: 'ValidationError' });
  });

  it("a demoted operator's session ends at once", async () => {
    const email = `demoted-${uniqueTag()}@example.org`;
    await call(
      `mutation { createOperator(input: { email: "${email}", role: OPERATOR, password: "correct horse battery" }) { __typename } }`,
      'owner',
    );
    const signedIn = await call(
      `mutation { operatorSignIn(input: { email: "${email}", password: "correct horse battery" }) { ... on OperatorSignInSuccess { operator { id } session { token } } } }`,
      'none',
    );
    const { operator, session } = signedIn.data!.operatorSignIn as {
      operator: { id: string };
      session: { token: string };
    };
    headers.demoted = { authorization: `Bearer ${session.token}` };
    expect((await call('{ adminMe { role } }', 'demoted')).data?.adminMe).toEqual({ role: 'OPERATOR' });
    await call(`mutation { setOperatorRole(id: "${operator.id}", role: VIEWER) { __typename } }`, 'owner');
    expect((await call('{ adminMe { role } }', 'demoted')).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('role matrix', () => {
  it('has an entry for every admin query and mutation of the schema', () => {
    expect(
      adminFields()
        .map((f) => f.name)
        .sort(),
    ).toEqual(Object.keys(SPEC).sort());
  });

  it("docs/graphql-api.md's rights table lists every admin field under the right it needs", () => {
    const doc = readFileSync(path.resolve(import.meta.dirname, '../../../docs/graphql-api.md'), 'utf8');
    const listed = new Map<string, Set<string>>();
    for (const [, right, operations] of doc.matchAll(/^\| (read|operate|billing|owner) \|[^|]*\|(.*)\|$/gm)) {
      const names = [...operations!.matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]!);
      listed.set(right!, new Set(names));
    }
    const rightsOf = {
      read: ['read'],
      'read+user': ['read'],
      operate: ['operate'],
      billing: ['billing'],
      'money-job': ['operate', 'billing'],
      owner: ['owner'],
    } as const;
    const expected = new Map<string, string[]>();
    for (const [name, spec] of Object.entries(SPEC)) {
      for (const right of rightsOf[spec]) expected.set(right, [...(expected.get(right) ?? []), name]);
    }
    for (const [right, names] of expected) {
      expect([...(listed.get(right) ?? [])].sort(), `the ${right} row`).toEqual(names.sort());
    }
  });

  it.each(adminFields().map((f) => [f.name, f] as const))(
    '%s: allowed or refused per role',
    async (name, f) => {
      const query = operationText(f.operation, f.field);
      const allowed = ALLOWED[SPEC[name]!];
      for (const caller of CALLERS) {
        const body = await call(query, caller);
        const code = body.errors?.[0]?.extensions?.code;
        if (allowed.includes(caller)) {
          expect(
            ['FORBIDDEN', 'UNAUTHENTICATED'],
            `${name} as ${caller}: ${JSON.stringify(body)}`,
          ).not.toContain(code);
          expect(code, `${name} as ${caller}: ${JSON.stringify(body)}`).not.toBe('GRAPHQL_VALIDATION_FAILED');
        } else {
          expect(code, `${name} as ${caller}`).toBe(
            caller === 'none' || caller === 'user' ? 'UNAUTHENTICATED' : 'FORBIDDEN',
          );
          expect(body.data?.[name] ?? null, `${name} as ${caller}`).toBeNull();
        }
      }
    },
  );
});
