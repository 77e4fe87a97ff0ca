import { graphql } from '@hero/graphql';
import { redirect } from '@sveltejs/kit';
import { gql } from '#lib/server/api.ts';
import { clearSessionCookie, USER_COOKIE } from '#lib/server/session.ts';
import type { Actions, PageServerLoad } from './$types';

const SIGN_OUT = graphql(`
  mutation WebSignOut {
    signOut
  }
`);

/** Signing out is a POST (the header's "Sign out" form); a plain visit changes nothing. */
export const load: PageServerLoad = () => {
  redirect(303, '/');
};

export const actions: Actions = {
  default: async (event) => {
    if (event.locals.sessionToken) {
      try {
        await gql(event, SIGN_OUT);
      } catch {
        // The session ends here either way: the cookie goes below, and an unreachable API's
        // session runs out on its own.
      }
    }
    clearSessionCookie(event.cookies, event.url, USER_COOKIE);
    event.locals.sessionToken = undefined;
    event.locals.user = undefined;
    redirect(303, '/signin?signedout=1');
  },
};
