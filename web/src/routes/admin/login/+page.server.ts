import { graphql, type ResultOf } from '@hero/graphql';
import { type ActionFailure, fail, type RequestEvent, redirect } from '@sveltejs/kit';
import { safeAdminPath } from '#lib/server/admin.ts';
import { describeApiError, gql } from '#lib/server/api.ts';
import { oidcLabel } from '#lib/server/oidc.ts';
import { ADMIN_COOKIE, setSessionCookie } from '#lib/server/session.ts';
import type { Actions, PageServerLoad } from './$types';

const ADMIN_SIGN_IN = graphql(`
  mutation AdminSignIn($secret: String!) {
    adminSignIn(secret: $secret) {
      __typename
      ... on AdminSignInSuccess {
        session {
          token
          expiresAt
        }
      }
      ... on RateLimitedError {
        retryAfterSeconds
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const OPERATOR_SIGN_IN = graphql(`
  mutation OperatorSignIn($input: OperatorSignInInput!) {
    operatorSignIn(input: $input) {
      __typename
      ... on OperatorSignInSuccess {
        session {
          token
          expiresAt
        }
      }
      ... on RateLimitedError {
        retryAfterSeconds
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

/** "in 45 seconds", "in about 3 minutes". */
function waitWords(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.ceil(seconds))} seconds`;
  return `about ${Math.ceil(seconds / 60)} minutes`;
}

export const load: PageServerLoad = ({ locals, url }) => ({
  signedIn: Boolean(locals.adminToken),
  ended: url.searchParams.get('ended') === '1',
  redirectTo: safeAdminPath(url.searchParams.get('redirectTo')),
  oidcLabel: oidcLabel(),
});

type SignInResult =
  | ResultOf<typeof ADMIN_SIGN_IN>['adminSignIn']
  | ResultOf<typeof OPERATOR_SIGN_IN>['operatorSignIn'];

type Via = 'secret' | 'operator';

/** The session cookie and the way back, or what went wrong in words (`via`: which form it was). */
function answer(
  event: RequestEvent,
  via: Via,
  result: SignInResult,
  wrong: string,
): ActionFailure<{ via: Via; error: string; retryAfterSeconds?: number }> {
  if (result.__typename === 'AdminSignInSuccess' || result.__typename === 'OperatorSignInSuccess') {
    setSessionCookie(event.cookies, event.url, ADMIN_COOKIE, result.session.token, result.session.expiresAt);
    redirect(303, safeAdminPath(event.url.searchParams.get('redirectTo')));
  }
  if (result.__typename === 'RateLimitedError')
    return fail(429, {
      via,
      error: `Too many sign-in attempts. Try again in ${waitWords(result.retryAfterSeconds)}.`,
      retryAfterSeconds: result.retryAfterSeconds,
    });
  if (result.__typename === 'InvalidCredentialsError') return fail(401, { via, error: wrong });
  // A member the schema does not have yet: its message, if it carries one.
  const other: { message?: string } = result;
  return fail(400, { via, error: other.message || 'Signing in did not work.' });
}

export const actions: Actions = {
  /** A named operator: email and password. */
  operator: async (event) => {
    const form = await event.request.formData();
    const email = form.get('email');
    const password = form.get('password');
    if (typeof email !== 'string' || !email.trim() || typeof password !== 'string' || !password)
      return fail(400, { via: 'operator' as Via, error: 'Enter your email and password.' });
    let result: SignInResult;
    try {
      ({ operatorSignIn: result } = await gql(
        event,
        OPERATOR_SIGN_IN,
        { input: { email: email.trim(), password } },
        'none',
      ));
    } catch (err) {
      return fail(503, { via: 'operator' as Via, error: describeApiError(err).message });
    }
    return answer(event, 'operator', result, 'The email or the password is not right.');
  },
  /** Break-glass: the admin secret (acts as owner). */
  secret: async (event) => {
    const form = await event.request.formData();
    const value = form.get('secret');
    // The secret is used as typed (no trimming), and never returned, logged or kept.
    const secret = typeof value === 'string' ? value : '';
    if (!secret) return fail(400, { via: 'secret' as Via, error: 'Enter the admin secret.' });
    let result: SignInResult;
    try {
      ({ adminSignIn: result } = await gql(event, ADMIN_SIGN_IN, { secret }, 'none'));
    } catch (err) {
      return fail(503, { via: 'secret' as Via, error: describeApiError(err).message });
    }
    return answer(event, 'secret', result, 'That admin secret is not right.');
  },
};
