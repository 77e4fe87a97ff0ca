import { redirect } from '@sveltejs/kit';
import type { LayoutServerLoad } from './$types';

/** Every page of the user's side needs a live session (hooks.server.ts checked the cookie). */
export const load: LayoutServerLoad = ({ locals }) => {
  if (!locals.user) redirect(303, '/signin');
  return { user: locals.user };
};
