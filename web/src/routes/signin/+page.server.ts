import { graphql, type ResultOf, readFragment } from '@hero/graphql';
import { fail, redirect } from '@sveltejs/kit';
import { type FieldErrors, rateLimitMessage } from '#lib/components/dashboard/auth-form.ts';
import { describeApiError, gql } from '#lib/server/api.ts';
import { SignInErrorFields } from '#lib/server/auth-fragments.ts';
import { oidcLabel } from '#lib/server/oidc.ts';
import { setSessionCookie, USER_COOKIE } from '#lib/server/session.ts';
import { signupMode } from '#lib/server/signup-mode.ts';
import type { Actions, PageServerLoad } from './$types';

const SIGN_IN = graphql(
  `
    mutation WebSignIn($input: SignInInput!) {
      signIn(input: $input) {
        __typename
        ... on SignInSuccess {
          session {
            token
            expiresAt
          }
        }
        ...SignInErrorFields
      }
    }
  `,
  [SignInErrorFields],
);

type Field = 'email' | 'password';

export interface SignInFailure {
  values: { email: string };
  errors: FieldErrors<Field>;
  /** For the whole form (role="alert"). */
  message?: string;
}

export const load: PageServerLoad = async (event) => {
  if (event.locals.user) redirect(303, '/');
  return { oidcLabel: oidcLabel(), signupMode: await signupMode(event) };
};

export const actions: Actions = {
  default: async (event) => {
    const data = await event.request.formData();
    const email = String(data.get('email') ?? '').trim();
    const password = String(data.get('password') ?? '');
    const values = { email };

    // Empty fields are answered here: they need no round trip and count as no attempt.
    const errors: FieldErrors<Field> = {};
    if (!email) errors.email = ['Enter your email.'];
    if (!password) errors.password = ['Enter your password.'];
    if (errors.email || errors.password) return fail<SignInFailure>(400, { values, errors });

    let result: ResultOf<typeof SIGN_IN>['signIn'];
    try {
      ({ signIn: result } = await gql(event, SIGN_IN, { input: { email, password } }, 'none'));
    } catch (err) {
      const { message } = describeApiError(err);
      return fail<SignInFailure>(503, { values, errors: {}, message });
    }

    if (result.__typename === 'SignInSuccess') {
      setSessionCookie(event.cookies, event.url, USER_COOKIE, result.session.token, result.session.expiresAt);
      redirect(303, '/');
    }
    const failure = readFragment(SignInErrorFields, result);
    switch (failure.code) {
      case 'RATE_LIMITED':
        return fail<SignInFailure>(429, {
          values,
          errors: {},
          message: rateLimitMessage('retryAfterSeconds' in failure ? failure.retryAfterSeconds : undefined),
        });
      case 'INVALID_CREDENTIALS':
        return fail<SignInFailure>(400, {
          values,
          errors: {},
          message: 'The email or the password is wrong.',
        });
      default:
        return fail<SignInFailure>(400, { values, errors: {}, message: failure.message });
    }
  },
};
