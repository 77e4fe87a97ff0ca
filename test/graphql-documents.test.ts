/**
 * Every `graphql()` document of the clients (web/src, cli/src, test/) is valid against the
 * committed schema.graphql, checked with graphql-js `validate`. The type-check (gql.tada) already
 * fails on most schema changes that break a client, but types some (an unknown field in places)
 * as `unknown` instead of failing: this fails on every one, e.g. a removed field a client selects.
 */

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  buildSchema,
  type DefinitionNode,
  type FragmentDefinitionNode,
  type GraphQLError,
  Kind,
  NoUnusedFragmentsRule,
  parse,
  specifiedRules,
  validate,
  visit,
} from 'graphql';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const schema = buildSchema(readFileSync(path.join(ROOT, 'schema.graphql'), 'utf8'));

/** Where the clients' documents are: each its own namespace of fragment names. */
const CLIENTS = { web: 'web/src/', cli: 'cli/src/', test: 'test/' } as const;

/** This file (its examples are not documents). */
const SELF = 'test/graphql-documents.test.ts';

interface Found {
  /** `file:line` */
  where: string;
  text: string;
}

/**
 * The literal first argument of every `graphql(` call in `source`: a template literal (without
 * `${…}`: gql.tada cannot type one) or a quoted string.
 */
function documentsIn(file: string, source: string): Found[] {
  const found: Found[] = [];
  for (const match of source.matchAll(
    /\bgraphql\(\s*(`(?:[^`\\]|\\.)*`|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")/g,
  )) {
    const literal = match[1];
    const line = source.slice(0, match.index).split('\n').length;
    found.push({ where: `${file}:${line}`, text: literal.slice(1, -1) });
  }
  return found;
}

/** gql.tada's own directive (unmasked fragments): it removes it from the document it builds. */
const withoutTadaDirectives = (text: string) => text.replace(/@_unmask\b/g, '');

function trackedFiles(prefix: string): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard', prefix], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return out.split('\0').filter((f) => f && f !== SELF && /\.(ts|svelte)$/.test(f) && !f.endsWith('.d.ts'));
}

interface Parsed {
  where: string;
  definitions: readonly DefinitionNode[];
}

/** The documents of one client, parsed; syntax errors and `${…}` listed as problems. */
function documentsOf(prefix: string): { parsed: Parsed[]; problems: string[] } {
  const parsed: Parsed[] = [];
  const problems: string[] = [];
  for (const file of trackedFiles(prefix)) {
    let source: string;
    try {
      source = readFileSync(path.join(ROOT, file), 'utf8');
    } catch {
      continue; // deleted in the work tree
    }
    for (const { where, text } of documentsIn(file, source)) {
      if (text.includes('${')) {
        problems.push(`${where}: an interpolated document (gql.tada types none): use fragments`);
        continue;
      }
      try {
        parsed.push({ where, definitions: parse(withoutTadaDirectives(text)).definitions });
      } catch (err) {
        problems.push(`${where}: ${(err as GraphQLError).message}`);
      }
    }
  }
  return { parsed, problems };
}

function spreadNames(nodes: readonly DefinitionNode[]): Set<string> {
  const names = new Set<string>();
  for (const node of nodes)
    visit(node, {
      FragmentSpread(spread) {
        names.add(spread.name.value);
      },
    });
  return names;
}

/**
 * Validates every document with the fragments it spreads (transitively, from any document of the
 * same client, as gql.tada's fragment arguments bring them): one line per error.
 */
function validateAll(parsed: Parsed[]): string[] {
  const fragments = new Map<string, { where: string; node: FragmentDefinitionNode }>();
  const problems: string[] = [];
  for (const doc of parsed)
    for (const def of doc.definitions)
      if (def.kind === Kind.FRAGMENT_DEFINITION) {
        const seen = fragments.get(def.name.value);
        if (seen) problems.push(`${doc.where}: fragment ${def.name.value} also defined at ${seen.where}`);
        else fragments.set(def.name.value, { where: doc.where, node: def });
      }
  // A document made of fragments only leaves them unused: not an error here.
  const rules = specifiedRules.filter((rule) => rule !== NoUnusedFragmentsRule);
  for (const doc of parsed) {
    const definitions = [...doc.definitions];
    const own = new Set(
      definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [d.name.value] : [])),
    );
    const pending = [...spreadNames(definitions)].filter((n) => !own.has(n));
    while (pending.length > 0) {
      const name = pending.pop() as string;
      const fragment = fragments.get(name);
      if (!fragment || own.has(name)) continue; // unknown: validate reports it
      own.add(name);
      definitions.push(fragment.node);
      pending.push(...spreadNames([fragment.node]));
    }
    for (const error of validate(schema, { kind: Kind.DOCUMENT, definitions }, rules))
      problems.push(`${doc.where}: ${error.message}`);
  }
  return problems;
}

describe('the clients’ GraphQL documents', () => {
  it('finds the literal of each graphql() call, and not a mention of the tag', () => {
    const source = [
      'const A = graphql(`query A { me { id } }`);',
      "const B = graphql('{ pool { id } }', [F]);",
      '// the `graphql()` tag',
    ].join('\n');
    expect(documentsIn('x.ts', source)).toEqual([
      { where: 'x.ts:1', text: 'query A { me { id } }' },
      { where: 'x.ts:2', text: '{ pool { id } }' },
    ]);
  });

  it('fails a selection the schema does not have (a removed field), and an unknown argument', () => {
    const parsed = [
      { where: 'x.ts:1', definitions: parse('query { me { id displayNameGone } }').definitions },
      { where: 'x.ts:2', definitions: parse('fragment F on User { id }').definitions },
      { where: 'x.ts:3', definitions: parse('query { pool(nope: 1) { id } me { ...F } }').definitions },
    ];
    // (graphql-js may add a "Did you mean …?" naming a field of the schema.)
    expect(validateAll(parsed)).toEqual([
      expect.stringMatching(/^x\.ts:1: Cannot query field "displayNameGone" on type "User"\./),
      'x.ts:3: Unknown argument "nope" on field "Query.pool".',
    ]);
  });

  for (const [client, prefix] of Object.entries(CLIENTS)) {
    it(`${client}: every document is valid against schema.graphql`, () => {
      const { parsed, problems } = documentsOf(prefix);
      // The clients have operations: finding none means this test lost track of them.
      expect(parsed.length).toBeGreaterThan(5);
      expect([...problems, ...validateAll(parsed)]).toEqual([]);
    });
  }
});
