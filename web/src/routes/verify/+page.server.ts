import { graphql, type ResultOf } from '@hero/graphql';
import { describeApiError, gql } from '#lib/server/api.ts';
import type { PageServerLoad } from './$types';

const VERIFY_EMAIL = graphql(`
  mutation WebVerifyEmail($token: String!) {
    verifyEmail(token: $token) {
      __typename
      ... on VerifyEmailSuccess {
        email
        changed
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

export interface VerifyOutcome {
  ok: boolean;
  title: string;
  message: string;
}

/**
 * The link from a verification or email change email: opening it uses it (a link works once,
 * so a reload says "used already"). The token stays out of cookies and logs.
 */
export const load: PageServerLoad = async (event): Promise<VerifyOutcome> => {
  const token = event.url.searchParams.get('token') ?? '';
  if (!token)
    return { ok: false, title: 'Link incomplete', message: 'This page needs the link from the email.' };
  let result: ResultOf<typeof VERIFY_EMAIL>['verifyEmail'];
  try {
    ({ verifyEmail: result } = await gql(event, VERIFY_EMAIL, { token }, 'none'));
  } catch (err) {
    event.setHeaders({ 'cache-control': 'no-store' });
    return { ok: false, title: 'Try again shortly', message: describeApiError(err).message };
  }
  if (result.__typename === 'VerifyEmailSuccess')
    return result.changed
      ? {
          ok: true,
          title: 'Email changed',
          message: `Your account's email is now ${result.email}. Sign in with it from now on.`,
        }
      : {
          ok: true,
          title: 'Email verified',
          message: `${result.email} is verified. You can now add credit, buy a plan and get a VM.`,
        };
  if (result.code === 'EMAIL_LINK_INVALID')
    return {
      ok: false,
      title: 'Link not valid',
      message:
        'This link is invalid, used already or expired. If your email is not verified yet, ask for a new link on your dashboard.',
    };
  return { ok: false, title: 'Not changed', message: result.message };
};
