import { graphql, type ResultOf, readFragment } from '@hero/graphql';
import { fail } from '@sveltejs/kit';
import type { Done, FailedWith } from '#lib/components/admin/types.ts';
import { USER_QUERY_MAX_LENGTH } from '#lib/components/users/user-choice.ts';
import {
  adminGql,
  adminQuery,
  connectionArgs,
  enumParam,
  failedFrom,
  failedFromUnion,
  field,
  nodes,
  pageInfoOf,
  param,
} from '#lib/server/admin.ts';
import { ErrorFields, PageInfoFields, UserRefFields } from '#lib/server/admin-fragments.ts';
import type { Actions, PageServerLoad } from './$types';

const USER_ORDERS = ['CREATED_DESC', 'CREATED_ASC', 'EMAIL_ASC'] as const;
const USER_STATUSES = ['ACTIVE', 'SUSPENDED', 'DELETED'] as const;

const USERS = graphql(
  `
    query AdminUsers(
      $email: String
      $search: String
      $status: UserStatus
      $orderBy: UserOrder
      $first: Int
      $after: String
      $last: Int
      $before: String
    ) {
      users(
        email: $email
        search: $search
        status: $status
        orderBy: $orderBy
        first: $first
        after: $after
        last: $last
        before: $before
      ) {
        edges {
          node {
            id
            email
            displayName
            status
            vmQuota
            vmQuotaPeriodEnd
            createdAt
            billing {
              creditBalanceCents
              currency
            }
          }
        }
        pageInfo {
          ...PageInfoFields
        }
      }
    }
  `,
  [PageInfoFields],
);

const CREATE_USER = graphql(
  `
    mutation AdminCreateUser($input: CreateUserInput!) {
      createUser(input: $input) {
        __typename
        ...ErrorFields
        ... on CreateUserSuccess {
          payload {
            token
            invitationUrl
            user {
              ...UserRefFields
            }
          }
        }
      }
    }
  `,
  [ErrorFields, UserRefFields],
);

export const load: PageServerLoad = async (event) => {
  const { url } = event;
  // `email` (exact) from older links; the filter form sends `search` (a part of the email or name).
  const email = param(url, 'email');
  const search = param(url, 'search')?.slice(0, USER_QUERY_MAX_LENGTH);
  const status = enumParam(url, 'status', USER_STATUSES);
  const orderBy = enumParam(url, 'orderBy', USER_ORDERS) ?? 'CREATED_DESC';
  const result = await adminQuery(event, USERS, { email, search, status, orderBy, ...connectionArgs(url) });
  return {
    filters: { email: email ?? '', search: search ?? '', status: status ?? '', orderBy },
    users: nodes(result.data?.users),
    pageInfo: pageInfoOf(result.data?.users),
    error: result.error,
  };
};

export const actions: Actions = {
  createUser: async (event) => {
    const form = await event.request.formData();
    const values = { email: field(form, 'email'), displayName: field(form, 'displayName') };
    let result: ResultOf<typeof CREATE_USER>['createUser'];
    try {
      ({ createUser: result } = await adminGql(event, CREATE_USER, { input: values }));
    } catch (err) {
      return fail(503, { createUser: { ...failedFrom(err), values } satisfies FailedWith<typeof values> });
    }
    if (result.__typename === 'CreateUserSuccess') {
      const { token, invitationUrl } = result.payload;
      const user = readFragment(UserRefFields, result.payload.user);
      return {
        createUser: {
          ok: true,
          message: `User ${user.email} created; an invitation to choose a password was emailed to them.`,
          token,
          invitationUrl,
          user,
        } satisfies Done<{ token: string; invitationUrl: string; user: typeof user }>,
      };
    }
    return fail(400, {
      createUser: {
        ...failedFromUnion(readFragment(ErrorFields, result)),
        values,
      } satisfies FailedWith<typeof values>,
    });
  },
};
