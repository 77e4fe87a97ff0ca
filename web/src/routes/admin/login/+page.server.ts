import { fail, redirect } from '@sveltejs/kit';
import { safeAdminPath } from '#lib/server/admin.ts';
import { describeApiError, gql } from '#lib/server/api.ts';
import { ADMIN_COOKIE, setSessionCookie } from '#lib/server/session.ts';
import type { Actions, PageServerLoad } from './$types';

const ADMIN_SIGN_IN = /* GraphQL */ `
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
`;

type AdminSignInResult =
  | { __typename: 'AdminSignInSuccess'; session: { token: string; expiresAt: string } }
  | { __typename: 'RateLimitedError'; code: string; message: string; retryAfterSeconds: number }
  | { __typename: string; code?: string; message?: string };

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

    let result: AdminSignInResult;
    try {
      ({ adminSignIn: result } = await gql<{ adminSignIn: AdminSignInResult }>(
        event,
        ADMIN_SIGN_IN,
        { secret },
        'none',
      ));
    } catch (err) {
      return fail(503, { error: describeApiError(err).message });
    }
    if (result.__typename === 'AdminSignInSuccess' && 'session' in result) {
      setSessionCookie(
        event.cookies,
        event.url,
        ADMIN_COOKIE,
        result.session.token,
        result.session.expiresAt,
      );
      redirect(303, safeAdminPath(event.url.searchParams.get('redirectTo')));
    }
    if (result.__typename === 'RateLimitedError' && 'retryAfterSeconds' in result) {
      return fail(429, {
        error: `Too many sign-in attempts. Try again in ${waitWords(result.retryAfterSeconds)}.`,
        retryAfterSeconds: result.retryAfterSeconds,
      });
    }
    if (result.__typename === 'InvalidCredentialsError')
      return fail(401, { error: 'That admin secret is not right.' });
    return fail(400, { error: ('message' in result && result.message) || 'Signing in did not work.' });
  },
};
