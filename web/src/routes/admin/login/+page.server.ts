import { graphql, type ResultOf } from '@hero/graphql';
import { fail, redirect } from '@sveltejs/kit';
import { safeAdminPath } from '#lib/server/admin.ts';
import { describeApiError, gql } from '#lib/server/api.ts';
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

/** "in 45 seconds", "in about 3 minutes". */
function waitWords(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.ceil(seconds))} seconds`;
  return `about ${Math.ceil(seconds / 60)} minutes`;
}

export const load: PageServerLoad = ({ locals, url }) => ({
  signedIn: Boolean(locals.adminToken),
  ended: url.searchParams.get('ended') === '1',
  redirectTo: safeAdminPath(url.searchParams.get('redirectTo')),
});

export const actions: Actions = {
  default: async (event) => {
    const form = await event.request.formData();
    const value = form.get('secret');
    // The secret is used as typed (no trimming), and never returned, logged or kept.
    const secret = typeof value === 'string' ? value : '';
    if (!secret) return fail(400, { error: 'Enter the admin secret.' });

    let result: ResultOf<typeof ADMIN_SIGN_IN>['adminSignIn'];
    try {
      ({ adminSignIn: result } = await gql(event, ADMIN_SIGN_IN, { secret }, 'none'));
    } catch (err) {
      return fail(503, { error: describeApiError(err).message });
    }
    if (result.__typename === 'AdminSignInSuccess') {
      setSessionCookie(
        event.cookies,
        event.url,
        ADMIN_COOKIE,
        result.session.token,
        result.session.expiresAt,
      );
      redirect(303, safeAdminPath(event.url.searchParams.get('redirectTo')));
    }
    if (result.__typename === 'RateLimitedError') {
      return fail(429, {
        error: `Too many sign-in attempts. Try again in ${waitWords(result.retryAfterSeconds)}.`,
        retryAfterSeconds: result.retryAfterSeconds,
      });
    }
    if (result.__typename === 'InvalidCredentialsError')
      return fail(401, { error: 'That admin secret is not right.' });
    // A member the schema does not have yet: its message, if it carries one.
    const other: { message?: string } = result;
    return fail(400, { error: other.message || 'Signing in did not work.' });
  },
};
