import { graphql, type ResultOf, readFragment } from '@hero/graphql';
import { fail } from '@sveltejs/kit';
import { type FieldErrors, problemsByField, rateLimitMessage } from '#lib/components/dashboard/auth-form.ts';
import { describeApiError, gql } from '#lib/server/api.ts';
import { PasswordErrorFields } from '#lib/server/auth-fragments.ts';
import type { Actions } from './$types';

const CHANGE_PASSWORD = graphql(
  `
    mutation WebChangePassword($input: ChangePasswordInput!) {
      changePassword(input: $input) {
        __typename
        ... on ChangePasswordSuccess {
          sessionsEnded
        }
        ...PasswordErrorFields
      }
    }
  `,
  [PasswordErrorFields],
);

type Field = 'currentPassword' | 'newPassword';

export interface ChangePasswordForm {
  errors: FieldErrors<Field>;
  message?: string;
  details?: string[];
  /** Set on success. */
  changed?: { sessionsEnded: number };
}

export const actions: Actions = {
  changePassword: async (event) => {
    const data = await event.request.formData();
    const currentPassword = String(data.get('currentPassword') ?? '');
    const newPassword = String(data.get('newPassword') ?? '');
    const errors: FieldErrors<Field> = {};
    if (!currentPassword) errors.currentPassword = ['Enter your current password.'];
    if (!newPassword) errors.newPassword = ['Enter a new password.'];
    if (errors.currentPassword || errors.newPassword) return fail<ChangePasswordForm>(400, { errors });

    let result: ResultOf<typeof CHANGE_PASSWORD>['changePassword'];
    try {
      ({ changePassword: result } = await gql(event, CHANGE_PASSWORD, {
        input: { currentPassword, newPassword },
      }));
    } catch (err) {
      return fail<ChangePasswordForm>(503, { errors: {}, message: describeApiError(err).message });
    }
    if (result.__typename === 'ChangePasswordSuccess') {
      const changed: ChangePasswordForm = { errors: {}, changed: { sessionsEnded: result.sessionsEnded } };
      return changed;
    }
    const failure = readFragment(PasswordErrorFields, result);
    switch (failure.code) {
      case 'INVALID_CREDENTIALS':
        return fail<ChangePasswordForm>(400, {
          errors: { currentPassword: ['The current password is wrong.'] },
        });
      case 'RATE_LIMITED':
        return fail<ChangePasswordForm>(429, {
          errors: {},
          message: rateLimitMessage('retryAfterSeconds' in failure ? failure.retryAfterSeconds : undefined),
        });
      case 'BAD_USER_INPUT': {
        const sorted = problemsByField('problems' in failure ? failure.problems : [], [
          'currentPassword',
          'newPassword',
        ] as const);
        return fail<ChangePasswordForm>(400, { errors: sorted.fields, details: sorted.other });
      }
      default:
        return fail<ChangePasswordForm>(400, { errors: {}, message: failure.message });
    }
  },
};
