import { graphql, type ResultOf, readFragment } from '@hero/graphql';
import { fail, redirect } from '@sveltejs/kit';
import { type FieldErrors, problemsByField, rateLimitMessage } from '#lib/components/dashboard/auth-form.ts';
import { describeApiError, gql } from '#lib/server/api.ts';
import { PasswordErrorFields } from '#lib/server/auth-fragments.ts';
import type { Actions, PageServerLoad } from './$types';

const RESET_PASSWORD = graphql(
  `
    mutation WebResetPassword($input: ResetPasswordInput!) {
      resetPassword(input: $input) {
        __typename
        ...PasswordErrorFields
      }
    }
  `,
  [PasswordErrorFields],
);

type Field = 'newPassword';

export interface ResetFailure {
  errors: FieldErrors<Field>;
  message?: string;
  details?: string[];
  /** The link cannot work any more: offer a new one. */
  expired?: boolean;
}

/**
 * The token stays in the page (a hidden field), not in a cookie or the log. `invite=1`: the link
 * of an invitation (an operator created the account), which sets the first password.
 */
export const load: PageServerLoad = ({ url }) => ({
  token: url.searchParams.get('token') ?? '',
  invite: url.searchParams.get('invite') === '1',
});

export const actions: Actions = {
  default: async (event) => {
    const data = await event.request.formData();
    const token = String(data.get('token') ?? '');
    const newPassword = String(data.get('newPassword') ?? '');
    if (!token)
      return fail<ResetFailure>(400, {
        errors: {},
        message: 'This page needs the link from the email.',
        expired: true,
      });
    if (!newPassword) return fail<ResetFailure>(400, { errors: { newPassword: ['Enter a new password.'] } });

    let result: ResultOf<typeof RESET_PASSWORD>['resetPassword'];
    try {
      ({ resetPassword: result } = await gql(
        event,
        RESET_PASSWORD,
        { input: { token, newPassword } },
        'none',
      ));
    } catch (err) {
      return fail<ResetFailure>(503, { errors: {}, message: describeApiError(err).message });
    }
    if (result.__typename === 'ResetPasswordSuccess')
      redirect(303, event.url.searchParams.get('invite') === '1' ? '/signin?invited=1' : '/signin?reset=1');
    const failure = readFragment(PasswordErrorFields, result);
    switch (failure.code) {
      case 'RATE_LIMITED':
        return fail<ResetFailure>(429, {
          errors: {},
          message: rateLimitMessage('retryAfterSeconds' in failure ? failure.retryAfterSeconds : undefined),
        });
      case 'BAD_USER_INPUT': {
        const sorted = problemsByField('problems' in failure ? failure.problems : [], [
          'newPassword',
        ] as const);
        return fail<ResetFailure>(400, { errors: sorted.fields, details: sorted.other });
      }
      case 'RESET_TOKEN_INVALID':
        return fail<ResetFailure>(400, {
          errors: {},
          message:
            event.url.searchParams.get('invite') === '1'
              ? 'This invitation link is invalid, used already or expired. If you set your password with it, sign in; otherwise ask the operator for a new invitation, or ask for a new link below.'
              : 'This link is invalid, used already or expired.',
          expired: true,
        });
      default:
        return fail<ResetFailure>(400, { errors: {}, message: failure.message });
    }
  },
};
