/**
 * The `graphql()` tag of every operation a client of the API sends (the web UI, `hero-admin` and
 * the tests): gql.tada types each document's result and variables from the committed schema
 * (schema.graphql, through graphql-env.d.ts, written by `npm run gql:generate`), so a schema
 * change that breaks a client fails the type-check instead of the client at run time.
 */
import { type DocumentNode, print } from '@0no-co/graphql.web';
import { initGraphQLTada, type TadaDocumentNode, type VariablesOf } from 'gql.tada';
import type { introspection } from './graphql-env.d.ts';

/** The API's custom scalars as they arrive in JSON (and as variables are sent). */
interface Scalars {
  /** An ISO 8601 instant, e.g. `2026-01-31T12:00:00.000Z`. */
  DateTime: string;
  JSON: unknown;
  SafeInt: number;
}

export const graphql = initGraphQLTada<{ introspection: introspection; scalars: Scalars }>();

// A scalar the schema adds without a mapping here would be typed `unknown` wherever it is read:
// this fails the check instead, naming it ("Type '…' does not satisfy the constraint 'never'").
type BuiltInScalar = 'String' | 'Int' | 'Float' | 'Boolean' | 'ID';
// (The generated introspection types every scalar as `unknown`, and nothing else.)
type SchemaScalar = {
  [Name in keyof introspection['types']]: unknown extends introspection['types'][Name] ? Name : never;
}[keyof introspection['types']];
type MustBeNone<T extends never> = T;
export type UnmappedScalar = MustBeNone<Exclude<SchemaScalar, BuiltInScalar | keyof Scalars>>;

export type { FragmentOf, ResultOf, TadaDocumentNode, VariablesOf } from 'gql.tada';
export { readFragment } from 'gql.tada';

/** A typed GraphQL document: an operation written with `graphql()`. */
export type Operation = TadaDocumentNode<any, any>;

/** The variables argument of a request helper: optional when the operation requires none. */
export type VariablesArg<Document extends Operation> =
  // biome-ignore lint/complexity/noBannedTypes: `{}` is what an operation without variables takes
  {} extends VariablesOf<Document> ? [variables?: VariablesOf<Document>] : [variables: VariablesOf<Document>];

const printed = new WeakMap<DocumentNode, string>();

/** The document's text as sent over HTTP (printed once per document: its fragments included). */
export function sourceOf(document: DocumentNode): string {
  let source = printed.get(document);
  if (source === undefined) {
    source = print(document);
    printed.set(document, source);
  }
  return source;
}
