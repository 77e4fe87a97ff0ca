import {
  type ASTVisitor,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  getNullableType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
} from 'graphql';

/**
 * Static limits on a GraphQL operation, checked at validation (before anything runs):
 * - depth: nested field levels (`{ pool { id } }` is 2); fragments are followed (they add no
 *   level of their own), a fragment cycle is not followed twice;
 * - aliases: aliased fields as written, a fragment's counted once per spread;
 * - cost: every field costs 1, and what is selected under a list field counts `LIST_FACTOR`
 *   times (a page of a connection holds up to 100 rows; 10 is the estimate of a typical one).
 * Introspection (`__schema`, `__type`) counts for none of depth and cost: whether a client may
 * introspect is decided on its own (see graphql-hardening.ts), and GraphiQL's own query is deep.
 */
export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxCost: number;
}

/** What one operation measures. */
export interface QueryMeasure {
  depth: number;
  aliases: number;
  cost: number;
}

export const LIST_FACTOR = 10;

/**
 * Defaults (GRAPHQL_MAX_DEPTH, _ALIASES, _COST): the product's own biggest operations (the admin
 * user page: depth 5, cost 285; at most 2 aliases) pass with room to spare.
 */
export const DEFAULT_QUERY_LIMITS: QueryLimits = { maxDepth: 10, maxAliases: 30, maxCost: 2000 };

const INTROSPECTION_FIELDS = new Set(['__schema', '__type']);

export type LimitCode = 'QUERY_TOO_DEEP' | 'TOO_MANY_ALIASES' | 'QUERY_TOO_COSTLY';

type FragmentLookup = (name: string) => FragmentDefinitionNode | undefined | null;

/**
 * Measures one operation. Each fragment is measured once (memoized), so a document that spreads
 * fragments into each other many times costs linear work; a cycle (invalid anyway, reported by
 * the standard rules) counts as empty where it closes.
 */
export function measureOperation(
  operation: OperationDefinitionNode,
  schema: GraphQLSchema | null,
  getFragment: FragmentLookup,
): QueryMeasure {
  const memo = new Map<string, QueryMeasure>();
  const inProgress = new Set<string>();

  const fragment = (name: string): QueryMeasure => {
    const known = memo.get(name);
    if (known) return known;
    const definition = getFragment(name);
    if (!definition || inProgress.has(name)) return { depth: 0, aliases: 0, cost: 0 };
    inProgress.add(name);
    const type = schema?.getType(definition.typeCondition.name.value) ?? null;
    const measured = selectionSet(definition.selectionSet, type);
    inProgress.delete(name);
    memo.set(name, measured);
    return measured;
  };

  const field = (node: FieldNode, parent: GraphQLNamedType | null): QueryMeasure => {
    const alias = node.alias ? 1 : 0;
    if (INTROSPECTION_FIELDS.has(node.name.value)) return { depth: 0, aliases: alias, cost: 0 };
    const definition =
      parent && (isObjectType(parent) || isInterfaceType(parent))
        ? parent.getFields()[node.name.value]
        : undefined;
    if (!node.selectionSet) return { depth: 1, aliases: alias, cost: 1 };
    const childType = definition ? getNamedType(definition.type) : null;
    const inner = selectionSet(node.selectionSet, childType);
    const factor = definition && isListType(getNullableType(definition.type)) ? LIST_FACTOR : 1;
    return {
      depth: 1 + inner.depth,
      aliases: alias + inner.aliases,
      cost: 1 + inner.cost * factor,
    };
  };

  const selectionSet = (set: SelectionSetNode, parent: GraphQLNamedType | null): QueryMeasure => {
    const total: QueryMeasure = { depth: 0, aliases: 0, cost: 0 };
    for (const selection of set.selections) {
      let m: QueryMeasure;
      if (selection.kind === Kind.FIELD) m = field(selection, parent);
      else if (selection.kind === Kind.FRAGMENT_SPREAD) m = fragment(selection.name.value);
      else {
        const type = selection.typeCondition
          ? (schema?.getType(selection.typeCondition.name.value) ?? null)
          : parent;
        m = selectionSet(selection.selectionSet, type);
      }
      total.depth = Math.max(total.depth, m.depth);
      total.aliases += m.aliases;
      total.cost += m.cost;
    }
    return total;
  };

  const root = schema?.getRootType(operation.operation) ?? null;
  return selectionSet(operation.selectionSet, root);
}

/** The coded error of a broken limit (HTTP 400; `spec: false` keeps the status for application/json too). */
export function limitError(code: LimitCode, message: string, node?: OperationDefinitionNode): GraphQLError {
  return new GraphQLError(message, {
    nodes: node ? [node] : undefined,
    extensions: { code, http: { status: 400, spec: false } },
  });
}

/** Which limits an operation breaks, with their messages (empty: none). */
export function checkLimits(
  measure: QueryMeasure,
  limits: QueryLimits,
): { code: LimitCode; message: string }[] {
  const broken: { code: LimitCode; message: string }[] = [];
  if (measure.depth > limits.maxDepth)
    broken.push({
      code: 'QUERY_TOO_DEEP',
      message: `query depth ${measure.depth} exceeds the limit of ${limits.maxDepth}`,
    });
  if (measure.aliases > limits.maxAliases)
    broken.push({
      code: 'TOO_MANY_ALIASES',
      message: `query has ${measure.aliases} aliases, more than the limit of ${limits.maxAliases}`,
    });
  if (measure.cost > limits.maxCost)
    broken.push({
      code: 'QUERY_TOO_COSTLY',
      message: `query cost ${measure.cost} exceeds the limit of ${limits.maxCost} (every field costs 1, fields under a list ×${LIST_FACTOR})`,
    });
  return broken;
}

/** A validation rule enforcing the limits on every operation of the document. */
export function queryLimitsRule(limits: QueryLimits): (context: ValidationContext) => ASTVisitor {
  // A named function: yoga's validation cache keys its entries by the rules' names.
  return function HeroQueryLimitsRule(context: ValidationContext): ASTVisitor {
    return {
      OperationDefinition(node) {
        const measure = measureOperation(node, context.getSchema(), (name) => context.getFragment(name));
        for (const { code, message } of checkLimits(measure, limits)) {
          context.reportError(limitError(code, message, node));
        }
        return false;
      },
    };
  };
}
