import { graphql } from '@hero/graphql';
import { redirect } from '@sveltejs/kit';
import { gql } from '#lib/server/api.ts';
import { ADMIN_COOKIE, clearSessionCookie } from '#lib/server/session.ts';
import type { Actions, PageServerLoad } from './$types';

const SIGN_OUT = graphql(`
  mutation AdminSignOut {
    signOut
  }
`);

export const load: PageServerLoad = ({ locals }) => ({ signedIn: Boolean(locals.adminToken) });

export const actions: Actions = {
  default: async (event) => {
    if (event.locals.adminToken) {
      try {
        await gql(event, SIGN_OUT, {}, 'admin');
      } catch {
        // Expired or revoked already, or the API is away: the cookie goes either way.
      }
    }
    clearSessionCookie(event.cookies, event.url, ADMIN_COOKIE);
    event.locals.adminToken = undefined;
    redirect(303, '/admin/login');
  },
};
