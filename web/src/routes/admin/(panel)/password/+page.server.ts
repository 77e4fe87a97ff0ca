import { graphql, type ResultOf, readFragment } from '@hero/graphql';
import { fail } from '@sveltejs/kit';
import type { Done } from '#lib/components/admin/types.ts';
import { adminGql, failedFrom, failedFromUnion } from '#lib/server/admin.ts';
import { ErrorFields } from '#lib/server/admin-fragments.ts';
import type { Actions } from './$types';

const CHANGE_OPERATOR_PASSWORD = graphql(
  `
    mutation AdminChangeOperatorPassword($input: ChangePasswordInput!) {
      changeOperatorPassword(input: $input) {
        __typename
        ... on ChangePasswordSuccess {
          sessionsEnded
        }
        ...ErrorFields
      }
    }
  `,
  [ErrorFields],
);

export const actions: Actions = {
  default: async (event) => {
    const form = await event.request.formData();
    // Passwords are used as typed and never sent back to the form.
    const text = (name: string) => {
      const value = form.get(name);
      return typeof value === 'string' ? value : '';
    };
    let result: ResultOf<typeof CHANGE_OPERATOR_PASSWORD>['changeOperatorPassword'];
    try {
      ({ changeOperatorPassword: result } = await adminGql(event, CHANGE_OPERATOR_PASSWORD, {
        input: { currentPassword: text('currentPassword'), newPassword: text('newPassword') },
      }));
    } catch (err) {
      return fail(503, { change: failedFrom(err) });
    }
    if (result.__typename === 'ChangePasswordSuccess')
      return {
        change: {
          ok: true,
          message: `Password changed; ${result.sessionsEnded} other session(s) ended.`,
        } satisfies Done,
      };
    return fail(400, { change: failedFromUnion(readFragment(ErrorFields, result)) });
  },
};
