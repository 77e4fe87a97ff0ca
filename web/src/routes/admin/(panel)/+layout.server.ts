import { requireAdmin } from '#lib/server/admin.ts';
import type { LayoutServerLoad } from './$types';

/**
 * The guard of every admin page: no admin session, no page. (Layout loads do not run for form
 * actions: every action calls the API through adminGql, which applies the same rule.)
 */
export const load: LayoutServerLoad = (event) => {
  requireAdmin(event);
  return {};
};
