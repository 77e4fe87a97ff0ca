import { graphql, type ResultOf, readFragment } from '@hero/graphql';
import { fail } from '@sveltejs/kit';
import type { Done, FailedWith } from '#lib/components/admin/types.ts';
import { adminGql, adminQuery, badInput, failedFrom, failedFromUnion, field } from '#lib/server/admin.ts';
import { ErrorFields } from '#lib/server/admin-fragments.ts';
import type { Actions, PageServerLoad } from './$types';

const ROLES = ['OWNER', 'OPERATOR', 'BILLING', 'VIEWER'] as const;
type Role = (typeof ROLES)[number];
const roleOf = (value: string): Role | undefined => ROLES.find((r) => r === value.toUpperCase());

const OPERATORS = graphql(`
  query AdminOperators {
    operators {
      id
      email
      role
      hasPassword
      forgeId
      createdAt
    }
  }
`);

const CREATE_OPERATOR = graphql(
  `
    mutation AdminCreateOperator($input: CreateOperatorInput!) {
      createOperator(input: $input) {
        __typename
        ... on CreateOperatorSuccess {
          operator {
            id
            email
          }
        }
        ...ErrorFields
      }
    }
  `,
  [ErrorFields],
);

const SET_OPERATOR_ROLE = graphql(
  `
    mutation AdminSetOperatorRole($id: ID!, $role: OperatorRole!) {
      setOperatorRole(id: $id, role: $role) {
        __typename
        ... on SetOperatorRoleSuccess {
          operator {
            email
            role
          }
        }
        ...ErrorFields
      }
    }
  `,
  [ErrorFields],
);

const REMOVE_OPERATOR = graphql(
  `
    mutation AdminRemoveOperator($id: ID!) {
      removeOperator(id: $id) {
        __typename
        ... on RemoveOperatorSuccess {
          operator {
            email
          }
        }
        ...ErrorFields
      }
    }
  `,
  [ErrorFields],
);

export const load: PageServerLoad = async (event) => {
  const loaded = await adminQuery(event, OPERATORS);
  return { operators: loaded.data?.operators ?? [], error: loaded.error, roles: ROLES };
};

export const actions: Actions = {
  create: async (event) => {
    const form = await event.request.formData();
    // The password is never sent back to the form.
    const values = { email: field(form, 'email'), role: field(form, 'role') };
    const password = form.get('password');
    const role = roleOf(values.role);
    if (!role)
      return fail(400, {
        create: { ...badInput('Choose a role.'), values } satisfies FailedWith<typeof values>,
      });
    let result: ResultOf<typeof CREATE_OPERATOR>['createOperator'];
    try {
      ({ createOperator: result } = await adminGql(event, CREATE_OPERATOR, {
        input: {
          email: values.email,
          role,
          password: typeof password === 'string' && password ? password : null,
        },
      }));
    } catch (err) {
      return fail(503, { create: { ...failedFrom(err), values } satisfies FailedWith<typeof values> });
    }
    if (result.__typename === 'CreateOperatorSuccess')
      return { create: { ok: true, message: `Operator ${result.operator.email} added.` } satisfies Done };
    return fail(400, {
      create: { ...failedFromUnion(readFragment(ErrorFields, result)), values } satisfies FailedWith<
        typeof values
      >,
    });
  },
  setRole: async (event) => {
    const form = await event.request.formData();
    const role = roleOf(field(form, 'role'));
    if (!role) return fail(400, { change: badInput('Choose a role.') });
    let result: ResultOf<typeof SET_OPERATOR_ROLE>['setOperatorRole'];
    try {
      ({ setOperatorRole: result } = await adminGql(event, SET_OPERATOR_ROLE, {
        id: field(form, 'id'),
        role,
      }));
    } catch (err) {
      return fail(503, { change: failedFrom(err) });
    }
    if (result.__typename === 'SetOperatorRoleSuccess')
      return {
        change: {
          ok: true,
          message: `${result.operator.email} is now ${result.operator.role.toLowerCase()}; their sessions ended.`,
        } satisfies Done,
      };
    return fail(400, { change: failedFromUnion(readFragment(ErrorFields, result)) });
  },
  remove: async (event) => {
    const form = await event.request.formData();
    let result: ResultOf<typeof REMOVE_OPERATOR>['removeOperator'];
    try {
      ({ removeOperator: result } = await adminGql(event, REMOVE_OPERATOR, { id: field(form, 'id') }));
    } catch (err) {
      return fail(503, { change: failedFrom(err) });
    }
    if (result.__typename === 'RemoveOperatorSuccess')
      return { change: { ok: true, message: `Removed ${result.operator.email}.` } satisfies Done };
    return fail(400, { change: failedFromUnion(readFragment(ErrorFields, result)) });
  },
};
