import {
  buildSchema,
  getIntrospectionQuery,
  Kind,
  type OperationDefinitionNode,
  parse,
  validate,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  checkLimits,
  DEFAULT_QUERY_LIMITS,
  LIST_FACTOR,
  measureOperation,
  queryLimitsRule,
} from './query-limits.ts';

const schema = buildSchema(`
  type Query { me: User, users: [User!]!, node(id: ID!): User }
  type User { id: ID!, name: String, friends: [User!]!, best: User, tags: [String!]! }
`);

function measure(source: string) {
  const doc = parse(source);
  const operation = doc.definitions.find(
    (d) => d.kind === Kind.OPERATION_DEFINITION,
  ) as OperationDefinitionNode;
  const fragments = new Map(
    doc.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])),
  );
  return measureOperation(operation, schema, (name) => fragments.get(name));
}

const errorsOf = (source: string, limits = DEFAULT_QUERY_LIMITS) =>
  validate(schema, parse(source), [queryLimitsRule(limits)]).map((e) => ({
    message: e.message,
    code: e.extensions.code,
    http: e.extensions.http,
  }));

describe('measureOperation', () => {
  it('counts nested field levels as depth', () => {
    expect(measure('{ me { id } }').depth).toBe(2);
    expect(measure('{ __typename }').depth).toBe(1);
    expect(measure('{ me { best { best { best { id } } } } }').depth).toBe(5);
  });

  it('follows fragments and inline fragments without adding a level of their own', () => {
    const viaFragments = measure(`
      query { me { ...A } }
      fragment A on User { best { ...B } }
      fragment B on User { best { ... on User { best { id } } } }
    `);
    expect(viaFragments.depth).toBe(measure('{ me { best { best { best { id } } } } }').depth);
  });

  it('survives a fragment cycle (invalid, reported by the standard rules) without looping', () => {
    const m = measure(`
      query { me { ...A } }
      fragment A on User { best { ...B } }
      fragment B on User { best { ...A } }
    `);
    expect(m.depth).toBe(3);
  });

  it('measures a fragment once however often it is spread (no exponential work)', () => {
    // 30 levels of fragments each spreading the next twice: 2^30 paths if expanded naively.
    const fragments = Array.from(
      { length: 30 },
      (_, i) =>
        `fragment F${i} on User { ${i === 29 ? 'id' : `best { ...F${i + 1} } a${i}: best { ...F${i + 1} }`} }`,
    ).join('\n');
    const started = Date.now();
    const m = measure(`query { me { ...F0 } }\n${fragments}`);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(m.depth).toBe(31);
    expect(m.aliases).toBe(2 ** 29 - 1); // every spread of a fragment counts its aliases again
  });

  it('counts aliases as written, through fragments once per spread', () => {
    expect(measure('{ a: me { id } b: me { x: id } }').aliases).toBe(3);
    expect(measure('query { me { ...F ...F } } fragment F on User { n: name }').aliases).toBe(2);
    expect(measure('{ me { id } }').aliases).toBe(0);
  });

  it('costs every field 1 and what is under a list LIST_FACTOR times', () => {
    expect(measure('{ me { id name } }').cost).toBe(3);
    expect(measure('{ users { id name } }').cost).toBe(1 + LIST_FACTOR * 2);
    expect(measure('{ users { friends { id } } }').cost).toBe(1 + LIST_FACTOR * (1 + LIST_FACTOR));
    // A list of scalars has no selection under it: 1.
    expect(measure('{ me { tags } }').cost).toBe(2);
  });

  it('leaves introspection out of depth and cost (GraphiQL’s own query is deep)', () => {
    const m = measure(getIntrospectionQuery());
    expect(m.depth).toBe(0);
    expect(m.cost).toBe(0);
    expect(measure('{ __type(name: "User") { fields { type { ofType { name } } } } me { id } }').depth).toBe(
      2,
    );
  });
});

describe('queryLimitsRule', () => {
  it('refuses a query deeper than the limit, naming both figures (HTTP 400)', () => {
    const deep = `{ me ${'{ best '.repeat(12)}{ id }${' }'.repeat(12)} }`;
    expect(errorsOf(deep)).toEqual([
      {
        message: 'query depth 14 exceeds the limit of 10',
        code: 'QUERY_TOO_DEEP',
        http: { status: 400, spec: false },
      },
    ]);
    expect(errorsOf(`{ me ${'{ best '.repeat(8)}{ id }${' }'.repeat(8)} }`)).toEqual([]);
  });

  it('refuses too many aliases', () => {
    const aliases = Array.from({ length: 1000 }, (_, i) => `a${i}: __typename`).join(' ');
    expect(errorsOf(`{ ${aliases} }`)).toEqual([
      expect.objectContaining({
        message: 'query has 1000 aliases, more than the limit of 30',
        code: 'TOO_MANY_ALIASES',
      }),
    ]);
  });

  it('refuses a query costing more than the limit', () => {
    const errors = errorsOf('{ users { friends { friends { friends { id } } } } }');
    expect(errors).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/^query cost 11111 exceeds the limit of 2000 /),
        code: 'QUERY_TOO_COSTLY',
      }),
    ]);
  });

  it('reports every broken limit, and follows the limits it is given', () => {
    const limits = { maxDepth: 2, maxAliases: 0, maxCost: 5 };
    expect(errorsOf('{ x: users { friends { id } } }', limits).map((e) => e.code)).toEqual([
      'QUERY_TOO_DEEP',
      'TOO_MANY_ALIASES',
      'QUERY_TOO_COSTLY',
    ]);
    expect(checkLimits({ depth: 2, aliases: 0, cost: 5 }, limits)).toEqual([]);
  });
});
