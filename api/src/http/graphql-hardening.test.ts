import { buildSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { apiConfigSchema } from '../config.ts';
import {
  basicAuthPassword,
  graphqlHardening,
  hasAdminSecret,
  introspectionGateRule,
  mentionsIntrospection,
  stripSuggestions,
} from './graphql-hardening.ts';

const SECRET = 'an-admin-secret-of-some-length';
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('basicAuthPassword', () => {
  it('takes the password whatever the user name, colons in it included', () => {
    expect(basicAuthPassword(basic('admin', 'p:w'))).toBe('p:w');
    expect(basicAuthPassword(basic('', SECRET))).toBe(SECRET);
    expect(basicAuthPassword(`basic  ${Buffer.from(`x:${SECRET}`).toString('base64')}`)).toBe(SECRET);
  });

  it('is null for anything else', () => {
    expect(basicAuthPassword(null)).toBeNull();
    expect(basicAuthPassword('Bearer ha_abc')).toBeNull();
    expect(basicAuthPassword(`Basic ${Buffer.from('no-colon').toString('base64')}`)).toBeNull();
    expect(basicAuthPassword('Basic !!!')).toBeNull();
  });
});

describe('hasAdminSecret', () => {
  it('accepts the x-admin-secret header or Basic with the secret as password', () => {
    expect(hasAdminSecret(new Headers({ 'x-admin-secret': SECRET }), SECRET)).toBe(true);
    expect(hasAdminSecret(new Headers({ authorization: basic('me', SECRET) }), SECRET)).toBe(true);
  });

  it('refuses a wrong or empty secret and other credentials', () => {
    expect(hasAdminSecret(new Headers({ 'x-admin-secret': `${SECRET}x` }), SECRET)).toBe(false);
    expect(hasAdminSecret(new Headers({ authorization: basic(SECRET, 'wrong') }), SECRET)).toBe(false);
    expect(hasAdminSecret(new Headers({ authorization: basic('x', '') }), SECRET)).toBe(false);
    expect(hasAdminSecret(new Headers({ authorization: `Bearer ${SECRET}` }), SECRET)).toBe(false);
    expect(hasAdminSecret(new Headers(), SECRET)).toBe(false);
  });
});

describe('introspection', () => {
  const schema = buildSchema('type Query { a: Int }');

  it('mentionsIntrospection spots __schema and __type, not __typename', () => {
    expect(mentionsIntrospection('{ __schema { types { name } } }')).toBe(true);
    expect(mentionsIntrospection('{ __type(name: "Query") { name } }')).toBe(true);
    expect(mentionsIntrospection('{ a __typename }')).toBe(false);
  });

  it('the gate refuses __schema and __type once per document (403, INTROSPECTION_DISABLED)', () => {
    const errors = validate(
      schema,
      parse('{ __schema { queryType { name } } __type(name: "Query") { name } }'),
      [introspectionGateRule('admin')],
    );
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toMatch(/^introspection needs admin credentials in production/);
    expect(errors[0]?.extensions).toEqual({
      code: 'INTROSPECTION_DISABLED',
      http: { status: 403, spec: false },
    });
    expect(validate(schema, parse('{ a __typename }'), [introspectionGateRule('admin')])).toEqual([]);
    expect(
      validate(schema, parse('{ __schema { queryType { name } } }'), [introspectionGateRule('off')])[0]
        ?.message,
    ).toBe('introspection is disabled on this server (GRAPHQL_INTROSPECTION=off)');
  });
});

describe('stripSuggestions', () => {
  it.each([
    [
      'Cannot query field "poo" on type "Query". Did you mean "pool"?',
      'Cannot query field "poo" on type "Query".',
    ],
    [
      'Cannot query field "x" on type "Query". Did you mean "a", "b", or "c"?',
      'Cannot query field "x" on type "Query".',
    ],
    [
      'Variable "$s" got invalid value "ACTIV"; Value "ACTIV" does not exist in "AllocationStatus" enum. Did you mean the enum value "ACTIVE"?',
      'Variable "$s" got invalid value "ACTIV"; Value "ACTIV" does not exist in "AllocationStatus" enum.',
    ],
    ['Syntax Error: Expected Name, found <EOF>.', 'Syntax Error: Expected Name, found <EOF>.'],
  ])('%s', (message, stripped) => expect(stripSuggestions(message)).toBe(stripped));
});

describe('graphqlHardening (from the api configuration)', () => {
  const base = { DATABASE_URL: 'postgres://localhost/x', ADMIN_SECRET: SECRET };

  it('defaults: limits 10/30/2000, 1 MiB, introspection on outside production and admin-only in it', () => {
    for (const [env, mode] of [
      ['development', 'on'],
      ['test', 'on'],
      ['production', 'admin'],
    ] as const) {
      expect(graphqlHardening(apiConfigSchema.parse({ ...base, NODE_ENV: env }))).toEqual({
        limits: { maxDepth: 10, maxAliases: 30, maxCost: 2000 },
        introspection: mode,
        maxBodyBytes: 1048576,
      });
    }
  });

  it('takes the variables', () => {
    const config = apiConfigSchema.parse({
      ...base,
      NODE_ENV: 'production',
      GRAPHQL_MAX_DEPTH: '7',
      GRAPHQL_MAX_ALIASES: '0',
      GRAPHQL_MAX_COST: '500',
      GRAPHQL_MAX_BODY_BYTES: '65536',
      GRAPHQL_INTROSPECTION: 'on',
    });
    expect(graphqlHardening(config)).toEqual({
      limits: { maxDepth: 7, maxAliases: 0, maxCost: 500 },
      introspection: 'on',
      maxBodyBytes: 65536,
    });
  });

  it('refuses bad values', () => {
    for (const bad of [
      { GRAPHQL_MAX_DEPTH: '0' },
      { GRAPHQL_MAX_COST: 'lots' },
      { GRAPHQL_INTROSPECTION: 'yes' },
      { GRAPHQL_MAX_BODY_BYTES: '10' },
    ])
      expect(apiConfigSchema.safeParse({ ...base, ...bad }).success).toBe(false);
  });
});
