/**
 * The tests' side of typed operations: documents are written with the `graphql()` tag of
 * @hero/graphql (typed from schema.graphql, like the web's and hero-admin's), sent with the
 * helpers of ./api.ts; `member` narrows a result union to the member a test expects.
 */
export { graphql, type ResultOf, readFragment, type VariablesOf } from '@hero/graphql';

/**
 * The result union member named `typename`, typed as that member; anything else (another member,
 * null: the operation failed) throws with what was answered.
 */
export function member<T extends { __typename?: string }, N extends NonNullable<T['__typename']>>(
  result: T | null | undefined,
  typename: N,
): Extract<T, { __typename: N }> {
  if (result?.__typename !== typename)
    throw new Error(`expected a ${typename}, got ${JSON.stringify(result ?? null)}`);
  return result as Extract<T, { __typename: N }>;
}

/** The `code` of a result union member that is an Error; of any other member (a success): undefined. */
export function codeOf(result: { __typename?: string } | null | undefined): string | undefined {
  return result && 'code' in result ? (result as { code?: string }).code : undefined;
}
