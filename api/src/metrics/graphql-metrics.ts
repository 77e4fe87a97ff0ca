import {
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  getOperationAST,
  Kind,
  type OperationTypeNode,
  type SelectionSetNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { Counter, Histogram, type Registry } from 'prom-client';

/** Label values for requests that never reached a valid operation. */
export const INVALID_OPERATION = 'invalid';
export const UNKNOWN_OPERATION = 'unknown';

/** Fields every root type answers (introspection); bounded like the schema's own. */
const META_FIELDS = ['__typename', '__schema', '__type'];

export interface OperationLabels {
  /** The operation's first root field (e.g. `allocateVm`, `me`, `pool`), or `unknown`. */
  operation: string;
  /** query | mutation | subscription | unknown */
  type: string;
}

const rootFieldsBySchema = new WeakMap<GraphQLSchema, Record<string, Set<string>>>();

function rootFields(schema: GraphQLSchema): Record<string, Set<string>> {
  let fields = rootFieldsBySchema.get(schema);
  if (!fields) {
    const names = (type: { getFields(): Record<string, unknown> } | null | undefined) =>
      new Set([...Object.keys(type?.getFields() ?? {}), ...META_FIELDS]);
    fields = {
      query: names(schema.getQueryType()),
      mutation: names(schema.getMutationType()),
      subscription: names(schema.getSubscriptionType()),
    };
    rootFieldsBySchema.set(schema, fields);
  }
  return fields;
}

function firstField(
  selectionSet: SelectionSetNode,
  fragments: Map<string, FragmentDefinitionNode>,
  seen: Set<string>,
): string | null {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) return selection.name.value;
    if (selection.kind === Kind.INLINE_FRAGMENT) {
      const found = firstField(selection.selectionSet, fragments, seen);
      if (found) return found;
    }
    if (selection.kind === Kind.FRAGMENT_SPREAD && !seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      const fragment = fragments.get(selection.name.value);
      const found = fragment ? firstField(fragment.selectionSet, fragments, seen) : null;
      if (found) return found;
    }
  }
  return null;
}

/**
 * The labels of a (validated) operation: its type and its first root field. Operation names
 * are the client's free text, so they are not used: a label is always one of the schema's
 * root fields (or `unknown`), which bounds the number of series.
 */
export function operationLabels(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName?: string | null,
): OperationLabels {
  const operation = getOperationAST(document, operationName ?? undefined);
  if (!operation) return { operation: UNKNOWN_OPERATION, type: UNKNOWN_OPERATION };
  const type: OperationTypeNode = operation.operation;
  const fragments = new Map(
    document.definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((d) => [d.name.value, d]),
  );
  const field = firstField(operation.selectionSet, fragments, new Set());
  const allowed = rootFields(schema)[type];
  return { operation: field && allowed?.has(field) ? field : UNKNOWN_OPERATION, type };
}

interface RequestState {
  started: number;
  labels?: OperationLabels;
  /** Set once a result came out of execution. */
  errors?: boolean;
}

export interface GraphQLMetrics {
  plugin: Plugin;
}

/**
 * `hero_graphql_requests_total{operation,type,result}` and
 * `hero_graphql_request_duration_seconds{operation,type}` for every request to `endpoint`:
 * result `success` (no errors), `error` (an answer with errors: auth, domain, resolver), or
 * `invalid` (refused before execution: unparsable, invalid against the schema or the limits,
 * no query), in which case operation and type are `invalid`.
 */
export function createGraphQLMetrics(registry: Registry, endpoint = '/graphql'): GraphQLMetrics {
  const requests = new Counter({
    name: 'hero_graphql_requests_total',
    help: 'GraphQL requests by operation (first root field), type and result (success | error | invalid).',
    labelNames: ['operation', 'type', 'result'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'hero_graphql_request_duration_seconds',
    help: 'GraphQL request latency (request received → response ready), by operation and type.',
    labelNames: ['operation', 'type'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const states = new WeakMap<Request, RequestState>();
  // Yoga's parser cache hands back the same document for the same query text: label it once.
  const labelsByDocument = new WeakMap<DocumentNode, Map<string, OperationLabels>>();
  const labelsOf = (schema: GraphQLSchema, document: DocumentNode, operationName?: string | null) => {
    let byName = labelsByDocument.get(document);
    if (!byName) {
      byName = new Map();
      labelsByDocument.set(document, byName);
    }
    const key = operationName ?? '';
    let labels = byName.get(key);
    if (!labels) {
      labels = operationLabels(schema, document, operationName);
      // Bounded: the operation name is the client's free text.
      if (byName.size < 16) byName.set(key, labels);
    }
    return labels;
  };

  const plugin: Plugin = {
    onRequest({ request, url }) {
      // CORS preflights are not GraphQL requests.
      if (url.pathname === endpoint && request.method !== 'OPTIONS')
        states.set(request, { started: performance.now() });
    },
    onValidate({ context, params }) {
      return ({ valid }) => {
        const state = states.get(context.request);
        if (!state || !valid) return;
        state.labels = labelsOf(params.schema, params.documentAST, context.params?.operationName);
      };
    },
    onExecute({ args }) {
      return {
        onExecuteDone({ args: done, result }) {
          const state = states.get((done.contextValue ?? args.contextValue).request);
          if (!state) return;
          // Streams (defer, subscriptions) count as answered.
          state.errors = Symbol.asyncIterator in result ? false : Boolean(result.errors?.length);
        },
      };
    },
    onResponse({ request, response }) {
      const state = states.get(request);
      if (!state) return;
      states.delete(request);
      // The GraphiQL page (development) is not an operation.
      if (response.headers.get('content-type')?.startsWith('text/html')) return;
      const seconds = (performance.now() - state.started) / 1000;
      const labels = state.labels ?? { operation: INVALID_OPERATION, type: INVALID_OPERATION };
      const result = !state.labels
        ? 'invalid'
        : state.errors === false && response.status < 400
          ? 'success'
          : 'error';
      requests.inc({ ...labels, result });
      duration.observe(labels, seconds);
    },
  };
  return { plugin };
}
