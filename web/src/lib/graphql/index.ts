/**
 * The `graphql()` tag of every operation the web UI sends: gql.tada types each document's result
 * and variables from the committed schema (../schema.graphql, through graphql-env.d.ts), so a
 * schema change that breaks a page fails `npm run check -w web` instead of the page at run time.
 */
import { initGraphQLTada } from 'gql.tada';
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
