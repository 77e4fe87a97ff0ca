import { graphql } from '@hero/graphql';
import { adminGql, requireAdmin } from '#lib/server/admin.ts';
import type { LayoutServerLoad } from './$types';

const ADMIN_ME = graphql(`
  query AdminMe {
    adminMe {
      email
      role
      breakGlass
      rights {
        operate
        billing
        owner
      }
    }
  }
`);

/**
 * The guard of every admin page: no admin session, no page. (Layout loads do not run for form
 * actions: every action calls the API through adminGql, which applies the same rule.) Who is
 * signed in decides what the pages offer: a form the role may not use is not shown (the API
 * refuses it anyway).
 */
export const load: LayoutServerLoad = async (event) => {
  requireAdmin(event);
  const { adminMe } = await adminGql(event, ADMIN_ME);
  return { admin: adminMe };
};
