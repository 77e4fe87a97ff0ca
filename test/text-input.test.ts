/**
 * Text PostgreSQL cannot store (NUL, unpaired UTF-16 surrogates) and over-long strings, sent to
 * every text input of the schema: each is refused as a validation error naming the argument path
 * (a ValidationError result where the field's union has one, else a BAD_USER_INPUT error), never
 * INTERNAL_SERVER_ERROR or HTTP 500, and the api logs nothing at error level. The inputs are read
 * from schema.graphql, so a new field is covered without touching this file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LONGER_INPUT_STRINGS } from '@hero/api/schema/text-input-plugin';
import { MAX_INPUT_STRING_LENGTH } from '@hero/core/lib/text-input';
import {
  buildSchema,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedOutputType,
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, type GraphQLResponse, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { signUpUser } from './support/factories.ts';
import { graphql, member } from './support/graphql.ts';
import { REPO_ROOT } from './support/postgres.ts';

const schema = buildSchema(readFileSync(path.join(REPO_ROOT, 'schema.graphql'), 'utf8'));

const TEXT_SCALARS = new Set(['String', 'ID', 'JSON']);

/** Where a text value can go in one argument: its path, and whether the slot is a JSON value. */
interface Slot {
  path: (string | number)[];
  json: boolean;
}

/** A value that coerces to `type` (validity beyond that does not matter: the check comes first). */
function minimalValue(type: GraphQLInputType, depth = 0): unknown {
  const named = getNullableType(type);
  if (isListType(named)) return [minimalValue(named.ofType, depth + 1)];
  if (isEnumType(named)) return named.getValues()[0]?.value;
  if (isInputObjectType(named)) {
    const fields = Object.values(named.getFields());
    if (named.isOneOf) return { [fields[0].name]: minimalValue(fields[0].type, depth + 1) };
    return Object.fromEntries(
      fields
        .filter((f) => isNonNullType(f.type) && f.defaultValue === undefined)
        .map((f) => [f.name, minimalValue(f.type, depth + 1)]),
    );
  }
  if (isScalarType(named)) {
    switch (named.name) {
      case 'String':
        return 'x';
      case 'ID':
        return '00000000-0000-4000-8000-000000000000';
      case 'Int':
      case 'SafeInt':
      case 'Float':
        return 1;
      case 'Boolean':
        return true;
      case 'DateTime':
        return '2030-01-01T00:00:00Z';
      case 'JSON':
        return [];
    }
  }
  throw new Error(`no minimal value for ${String(type)}`);
}

/** Every text slot of an argument type: String/ID/JSON values, inside input objects and lists too. */
function slotsOf(type: GraphQLInputType, at: (string | number)[] = [], seen = new Set<string>()): Slot[] {
  const nullable = getNullableType(type);
  if (isListType(nullable)) return slotsOf(nullable.ofType, [...at, 0], seen);
  if (isScalarType(nullable))
    return TEXT_SCALARS.has(nullable.name) ? [{ path: at, json: nullable.name === 'JSON' }] : [];
  if (isInputObjectType(nullable)) {
    if (seen.has(nullable.name)) return [];
    const inner = new Set(seen).add(nullable.name);
    return Object.values(nullable.getFields()).flatMap((f) => slotsOf(f.type, [...at, f.name], inner));
  }
  return [];
}

/** `value` with `bad` at `slot` (input objects built with their required fields; oneOf: that member only). */
function valueWith(type: GraphQLInputType, at: (string | number)[], bad: unknown): unknown {
  if (at.length === 0) return bad;
  const nullable = getNullableType(type);
  const [head, ...rest] = at;
  if (isListType(nullable)) return [valueWith(nullable.ofType, rest, bad)];
  if (!isInputObjectType(nullable)) throw new Error(`cannot descend into ${String(type)}`);
  const field = nullable.getFields()[head as string];
  const base = nullable.isOneOf ? {} : (minimalValue(nullable) as Record<string, unknown>);
  return { ...base, [head as string]: valueWith(field.type, rest, bad) };
}

const pathText = (at: (string | number)[]): string =>
  at.reduce<string>((text, part) => (typeof part === 'number' ? `${text}[${part}]` : `${text}.${part}`), '');

function selectionFor(type: GraphQLNamedOutputType): string {
  if (isUnionType(type)) {
    const validation = type.getTypes().some((t) => t.name === 'ValidationError');
    return `{ __typename${validation ? ' ... on ValidationError { code problems { path message } }' : ''} }`;
  }
  return isObjectType(type) ? '{ __typename }' : '';
}

interface Case {
  /** `Mutation.signUp input.email` */
  name: string;
  operation: 'query' | 'mutation';
  field: GraphQLField<unknown, unknown>;
  arg: GraphQLArgument;
  slot: Slot;
}

/** Every (root field, argument, text slot) of the schema. */
function textInputCases(): Case[] {
  const cases: Case[] = [];
  for (const [operation, root] of [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
  ] as const) {
    for (const field of Object.values(root!.getFields())) {
      for (const arg of field.args) {
        for (const slot of slotsOf(arg.type)) {
          const slotPath = `${arg.name}${pathText(slot.path)}`;
          cases.push({ name: `${root!.name}.${field.name} ${slotPath}`, operation, field, arg, slot });
        }
      }
    }
  }
  return cases;
}

const CASES = textInputCases();

const BAD = {
  nul: 'before\u0000after',
  'lone surrogate': 'rocket \ud83d alone',
  '100 KB': 'x'.repeat(100 * 1024),
} as const;

let db: TestDatabase;
let api: ApiProcess;
let headers: Record<string, string>;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startApi({ databaseUrl: db.url, env: { VM_POOL_JSON: '[]' } });
  // Admin secret and a user session at once: every field's auth passes, so the input is what is judged.
  const user = await signUpUser(api);
  headers = { 'x-admin-secret': api.adminSecret, authorization: `Bearer ${user.token}` };
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

interface Refusal {
  paths: string[];
  how: 'ValidationError result' | 'BAD_USER_INPUT error';
}

/** The validation refusal in an answer (and that it is nothing worse), or a failed expectation. */
function refusalOf(res: GraphQLResponse, fieldName: string, label: string): Refusal {
  expect(res.status, label).not.toBe(500);
  const codes = (res.errors ?? []).map((e) => e.extensions?.code);
  expect(codes, label).not.toContain('INTERNAL_SERVER_ERROR');
  const result = res.data?.[fieldName];
  if (result?.__typename === 'ValidationError') {
    expect(result.code, label).toBe('BAD_USER_INPUT');
    return { paths: result.problems.map((p: { path: string }) => p.path), how: 'ValidationError result' };
  }
  expect(res.errors, `${label}: ${JSON.stringify(res).slice(0, 500)}`).toHaveLength(1);
  const error = res.errors![0] as {
    path?: string[];
    extensions?: { code?: string; problems?: { path: string }[] };
  };
  expect(error.extensions?.code, label).toBe('BAD_USER_INPUT');
  expect(error.path, label).toEqual([fieldName]);
  return { paths: (error.extensions?.problems ?? []).map((p) => p.path), how: 'BAD_USER_INPUT error' };
}

const errorLines = (lines: string[]) =>
  lines.filter((line) => {
    try {
      return (JSON.parse(line) as { level?: number }).level! >= 50;
    } catch {
      return false;
    }
  });

describe('text inputs PostgreSQL cannot store, or too long', () => {
  it('the table covers the public and admin inputs, read from schema.graphql', () => {
    const names = CASES.map((c) => c.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'Mutation.signUp input.email',
        'Mutation.signUp input.password',
        'Mutation.signIn input.email',
        'Mutation.adminSignIn secret',
        'Mutation.createUser input.displayName',
        'Mutation.refreshPool input.manifest',
        'Mutation.refreshPool input.vms[0].cockpitUrl',
        'Mutation.recordPayment input.providerRef',
        'Query.users email',
        'Query.users after',
        'Query.user id',
        'Query.quotePlan planCode',
      ]),
    );
    expect(CASES.length).toBeGreaterThan(50);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const linesBefore = api.process.lines.length;
    // The argument under test, and the other required ones with values that coerce.
    const args = c.field.args.filter(
      (a) => a === c.arg || (isNonNullType(a.type) && a.defaultValue === undefined),
    );
    const query = `${c.operation}(${args.map((a) => `$${a.name}: ${String(a.type)}`).join(', ')}) {
      ${c.field.name}(${args.map((a) => `${a.name}: $${a.name}`).join(', ')}) ${selectionFor(getNamedType(c.field.type))} }`;
    const variables = (value: unknown) =>
      Object.fromEntries(
        args.map((a) => [a.name, a === c.arg ? valueWith(a.type, c.slot.path, value) : minimalValue(a.type)]),
      );
    const slotPath = `${c.arg.name}${pathText(c.slot.path)}`;
    const coordinate = `${c.operation === 'query' ? 'Query' : 'Mutation'}.${c.field.name}`;
    const longer = LONGER_INPUT_STRINGS[coordinate]?.[slotPath];

    for (const [kind, bad] of Object.entries(BAD)) {
      // A JSON slot gets the string inside a value too (each string in it is checked).
      const placements: [unknown, string][] = [[bad, slotPath]];
      if (c.slot.json) placements.push([[bad], `${slotPath}[0]`]);
      for (const [value, expectedPath] of placements) {
        // A slot with a documented larger bound takes a 100 KB string as a whole (checked below).
        if (kind === '100 KB' && expectedPath === slotPath && longer !== undefined) continue;
        const label = `${c.name} ${kind} at ${expectedPath}`;
        const res = await api.raw(query, variables(value), headers);
        const refusal = refusalOf(res, c.field.name, label);
        expect(refusal.paths, `${label} (${refusal.how})`).toContain(expectedPath);
      }
    }
    // Give the process a moment to write whatever it logs about these requests.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(errorLines(api.process.lines.slice(linesBefore)), c.name).toEqual([]);
  });

  it('the pool manifest as one JSON text may be longer, and is no exemption from the NUL check', async () => {
    expect(LONGER_INPUT_STRINGS['Mutation.refreshPool']?.['input.manifest']).toBeGreaterThan(100 * 1024);
    const REFRESH = graphql(`mutation($m: JSON) { refreshPool(input: { manifest: $m }) {
      __typename ... on ValidationError { problems { path message } } } }`);
    // 100 KB of manifest text is fine as far as length goes: what it says is judged next.
    const vms = Array.from({ length: 600 }, (_, i) => ({
      id: `vm-${i}`,
      name: `VM ${i} ${'n'.repeat(150)}`,
    }));
    const text = JSON.stringify(vms);
    expect(text.length).toBeGreaterThan(100 * 1024);
    expect(text.length).toBeGreaterThan(MAX_INPUT_STRING_LENGTH);
    const ok = await api.gql(REFRESH, { m: text }, headers);
    expect(ok.data.refreshPool).toEqual({ __typename: 'RefreshPoolSuccess' });
    // An escaped NUL in the JSON text becomes a NUL once parsed: refused, the pool is unchanged.
    const escaped = JSON.stringify([{ id: 'vm-ok' }, { id: 'vm-\u0000' }]);
    expect(escaped).not.toContain('\u0000');
    const refused = await api.gql(REFRESH, { m: escaped }, headers);
    expect(member(refused.data.refreshPool, 'ValidationError').problems).toEqual([
      { path: '[1].id', message: expect.stringMatching(/NUL/) },
    ]);
    const [{ n }] = await db.query<{ n: number }>(
      "select count(*)::int as n from pool_vm where status <> 'RETIRED'",
    );
    expect(n).toBe(600);
  });

  it('string literals in the query text and arguments of nested fields are checked the same way', async () => {
    const linesBefore = api.process.lines.length;
    // A GraphQL escape in the query text: `\u0000` becomes a NUL once parsed.
    const inline = await api.raw(
      'mutation { signIn(input: { email: "a\\u0000@example.org", password: "x" }) { __typename } }',
      {},
      headers,
    );
    expect(refusalOf(inline, 'signIn', 'inline').paths).toEqual(['input.email']);
    // An argument below the root: User.ledger(after:).
    const nested = await api.gql(
      graphql('query($a: String) { me { ledger(after: $a) { edges { cursor } } } }'),
      {
        a: '\u0000',
      },
      headers,
    );
    expect(nested.errors?.[0]).toMatchObject({
      path: ['me', 'ledger'],
      extensions: {
        code: 'BAD_USER_INPUT',
        problems: [{ path: 'after', message: expect.stringMatching(/NUL/) }],
      },
    });
    // A lone surrogate in the query text, escaped or not, does not even parse (GraphQL's lexer refuses it).
    for (const text of ['{ user(id: "\\uD800") { id } }', '{ user(id: "\ud800") { id } }']) {
      const unparsable = await api.raw(text, {}, headers);
      expect(unparsable.status).not.toBe(500);
      expect(unparsable.errors?.[0].extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    }
    // A raw NUL in a string literal parses, and is refused like any other.
    const raw = await api.raw('{ user(id: "a\u0000") { id } }', {}, headers);
    expect(refusalOf(raw, 'user', 'raw NUL').paths).toEqual(['id']);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(errorLines(api.process.lines.slice(linesBefore))).toEqual([]);
  });

  it('nothing was stored or counted: no user, no session, no rate-limit bucket carries such text', async () => {
    const rows = await db.query<{ n: number }>(
      `select ((select count(*) from users
                 where email ~ 'before|rocket' or display_name ~ 'before|rocket' or length(display_name) > 1000)
            + (select count(*) from auth_rate_limit where bucket ~ 'before|rocket|xxxxxxxxxx'))::int as n`,
    );
    expect(rows[0].n).toBe(0);
    // The user signed up in beforeAll, and no other.
    expect(await db.query('select count(*)::int as n from users')).toEqual([{ n: 1 }]);
    // And over the whole file, from start-up on: not one line at error level or above.
    expect(errorLines(api.process.lines)).toEqual([]);
  });
});
