import { isRedirect, json } from '@sveltejs/kit';
import { USER_MATCH_LIMIT } from '#lib/components/users/user-choice.ts';
import { describeApiError } from '#lib/server/api.ts';
import { searchUsers } from '#lib/server/user-choice.ts';
import type { RequestHandler } from './$types';

/**
 * The user picker's suggestions: `?q=` a part of an email or name. JSON
 * `{ users: [{ id, email, displayName }], more }`; no admin session: 401 (the picker then
 * leaves the text for the server to resolve on submit).
 */
export const GET: RequestHandler = async (event) => {
  if (!event.locals.adminToken) return json({ error: 'Sign in again.' }, { status: 401 });
  const q = event.url.searchParams.get('q')?.trim() ?? '';
  if (!q) return json({ users: [], more: false });
  try {
    const found = await searchUsers(event, q);
    return json({ users: found.slice(0, USER_MATCH_LIMIT), more: found.length > USER_MATCH_LIMIT });
  } catch (err) {
    if (isRedirect(err)) return json({ error: 'Sign in again.' }, { status: 401 });
    const { code, message } = describeApiError(err);
    return json({ error: message }, { status: code === 'BAD_USER_INPUT' ? 400 : 503 });
  }
};
