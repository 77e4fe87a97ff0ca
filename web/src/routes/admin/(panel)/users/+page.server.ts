import { fail } from '@sveltejs/kit';
import type { Connection, Done, FailedWith, UserRef } from '#lib/components/admin/types.ts';
import {
  adminGql,
  adminQuery,
  connectionArgs,
  ERROR_FIELDS,
  enumParam,
  failedFrom,
  failedFromUnion,
  field,
  nodes,
  param,
  type UnionError,
} from '#lib/server/admin.ts';
import { PAGE_ARGUMENTS, PAGE_INFO, PAGE_VARIABLES, USER_REF_FIELDS } from '#lib/server/admin-fragments.ts';
import type { Actions, PageServerLoad } from './$types';

const USER_ORDERS = ['CREATED_DESC', 'CREATED_ASC', 'EMAIL_ASC'] as const;

const USERS = /* GraphQL */ `
  query AdminUsers($email: String, $orderBy: UserOrder, ${PAGE_VARIABLES}) {
    users(email: $email, orderBy: $orderBy, ${PAGE_ARGUMENTS}) {
      edges {
        node {
          id
          email
          displayName
          vmQuota
          vmQuotaPeriodEnd
          createdAt
          billing {
            creditBalanceCents
            currency
          }
        }
      }
      ${PAGE_INFO}
    }
  }
`;

const CREATE_USER = /* GraphQL */ `
  mutation AdminCreateUser($input: CreateUserInput!) {
    createUser(input: $input) {
      ${ERROR_FIELDS}
      ... on CreateUserSuccess {
        payload {
          token
          user {
            ${USER_REF_FIELDS}
          }
        }
      }
    }
  }
`;

interface UserRow {
  id: string;
  email: string;
  displayName: string;
  vmQuota: number;
  vmQuotaPeriodEnd: string | null;
  createdAt: string;
  billing: { creditBalanceCents: number; currency: string };
}

export const load: PageServerLoad = async (event) => {
  const { url } = event;
  const email = param(url, 'email');
  const orderBy = enumParam(url, 'orderBy', USER_ORDERS) ?? 'CREATED_DESC';
  const result = await adminQuery<{ users: Connection<UserRow> }>(event, USERS, {
    email,
    orderBy,
    ...connectionArgs(url),
  });
  return {
    filters: { email: email ?? '', orderBy },
    users: nodes(result.data?.users),
    pageInfo: result.data?.users.pageInfo ?? null,
    error: result.error,
  };
};

type CreateUserResult =
  | {
      __typename: 'CreateUserSuccess';
      payload: { token: string; user: UserRef };
    }
  | UnionError;

export const actions: Actions = {
  createUser: async (event) => {
    const form = await event.request.formData();
    const values = { email: field(form, 'email'), displayName: field(form, 'displayName') };
    let result: CreateUserResult;
    try {
      ({ createUser: result } = await adminGql<{ createUser: CreateUserResult }>(event, CREATE_USER, {
        input: values,
      }));
    } catch (err) {
      return fail(503, { createUser: { ...failedFrom(err), values } satisfies FailedWith<typeof values> });
    }
    if ('payload' in result) {
      const { user, token } = result.payload;
      return {
        createUser: {
          ok: true,
          message: `User ${user.email} created.`,
          token,
          user,
        } satisfies Done<{ token: string; user: typeof user }>,
      };
    }
    return fail(400, {
      createUser: { ...failedFromUnion(result), values } satisfies FailedWith<typeof values>,
    });
  },
};
