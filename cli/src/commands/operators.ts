import { readFile } from 'node:fs/promises';
import { graphql } from '@hero/graphql';
import { refused } from '../client.ts';
import { defineCommand } from '../command.ts';
import { CliError, UsageError } from '../errors.ts';
import { formatJson, formatKeyValues, formatTable } from '../format.ts';

const ROLES = ['owner', 'operator', 'billing', 'viewer'] as const;
type Role = Uppercase<(typeof ROLES)[number]>;

/** `--role owner` (any case) as the API's enum value; anything else is a usage error. */
export function roleOf(value: string): Role {
  const role = value.trim().toLowerCase();
  if (!(ROLES as readonly string[]).includes(role))
    throw new UsageError(`--role must be one of ${ROLES.join(', ')} (got "${value}")`);
  return role.toUpperCase() as Role;
}

export const OPERATORS = graphql(`query Operators {
  operators { id email role hasPassword forgeId createdAt }
}`);

export const operatorsList = defineCommand({
  name: 'operators list',
  summary: 'list the named operators and their roles',
  options: {},
  parse: () => ({}),
  uses: 'api',
  async run({ client, json, io }) {
    const { operators } = await client.request(OPERATORS);
    if (json) return io.out(formatJson(operators));
    if (operators.length === 0)
      return io.out('no operators yet: add the first owner with `operators add --role owner`\n');
    io.out(
      formatTable(
        ['id', 'email', 'role', 'sign-in', 'created'],
        operators.map((o) => [
          o.id,
          o.email,
          o.role.toLowerCase(),
          [o.hasPassword ? 'password' : null, o.forgeId ? 'forge' : null].filter(Boolean).join('+') ||
            'forge only',
          String(o.createdAt),
        ]),
      ),
    );
  },
});

export const CREATE_OPERATOR = graphql(`mutation CreateOperator($input: CreateOperatorInput!) {
  createOperator(input: $input) {
    __typename
    ... on CreateOperatorSuccess { operator { id email role } }
    ... on ValidationError { code message problems { path message } }
    ... on Error { code message }
  }
}`);

async function readPassword(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CliError(`cannot read ${file}: ${e.code ?? e.message}`);
  }
  return text.split(/\r?\n/)[0] ?? '';
}

export const operatorsAdd = defineCommand({
  name: 'operators add',
  summary: 'add a named operator with a role (and an initial password)',
  description:
    'Roles: owner (everything, manages operators), operator (pool, allocations, jobs, users),\n' +
    'billing (payments, refunds, adjustments, plans), viewer (read-only). The password is read\n' +
    'from the first line of --password-file (never from the command line); without it the\n' +
    'operator signs in with the forge (OIDC) only.',
  options: {
    email: { type: 'string', value: '<email>', required: true, help: "the operator's email, required" },
    role: {
      type: 'string',
      value: '<role>',
      required: true,
      help: 'owner|operator|billing|viewer, required',
    },
    'password-file': {
      type: 'string',
      value: '<path>',
      help: 'a file whose first line is the initial password',
    },
  },
  parse: (values) => ({
    email: values.required('email').trim(),
    role: roleOf(values.required('role')),
    passwordFile: values.optional('password-file'),
  }),
  uses: 'api',
  async run({ client, json, io }, { email, role, passwordFile }) {
    const password = passwordFile ? await readPassword(passwordFile) : null;
    const { createOperator: result } = await client.request(CREATE_OPERATOR, {
      input: { email, role, password },
    });
    if (result.__typename !== 'CreateOperatorSuccess') throw refused('the operator was not added', result);
    const { operator } = result;
    if (json) return io.out(formatJson(operator));
    io.out(
      formatKeyValues([
        ['id', operator.id],
        ['email', operator.email],
        ['role', operator.role.toLowerCase()],
      ]),
    );
  },
});

export const SET_OPERATOR_ROLE = graphql(`mutation SetOperatorRole($id: ID!, $role: OperatorRole!) {
  setOperatorRole(id: $id, role: $role) {
    __typename
    ... on SetOperatorRoleSuccess { operator { id email role } }
    ... on Error { code message }
  }
}`);

export const operatorsSetRole = defineCommand({
  name: 'operators set-role',
  summary: "change an operator's role (their sessions end)",
  options: {
    operator: { type: 'string', value: '<operatorId>', required: true, help: 'the operator, required' },
    role: {
      type: 'string',
      value: '<role>',
      required: true,
      help: 'owner|operator|billing|viewer, required',
    },
  },
  parse: (values) => ({ id: values.required('operator').trim(), role: roleOf(values.required('role')) }),
  uses: 'api',
  async run({ client, json, io }, { id, role }) {
    const { setOperatorRole: result } = await client.request(SET_OPERATOR_ROLE, { id, role });
    if (result.__typename !== 'SetOperatorRoleSuccess') throw refused('the role was not changed', result);
    if (json) return io.out(formatJson(result.operator));
    io.out(`${result.operator.email} is now ${result.operator.role.toLowerCase()}; their sessions ended\n`);
  },
});

export const REMOVE_OPERATOR = graphql(`mutation RemoveOperator($id: ID!) {
  removeOperator(id: $id) {
    __typename
    ... on RemoveOperatorSuccess { operator { id email role } }
    ... on Error { code message }
  }
}`);

export const operatorsRemove = defineCommand({
  name: 'operators remove',
  summary: 'remove an operator (their sessions end)',
  options: {
    operator: { type: 'string', value: '<operatorId>', required: true, help: 'the operator, required' },
  },
  parse: (values) => ({ id: values.required('operator').trim() }),
  uses: 'api',
  async run({ client, json, io }, { id }) {
    const { removeOperator: result } = await client.request(REMOVE_OPERATOR, { id });
    if (result.__typename !== 'RemoveOperatorSuccess') throw refused('the operator was not removed', result);
    if (json) return io.out(formatJson(result.operator));
    io.out(`removed ${result.operator.email}\n`);
  },
});
