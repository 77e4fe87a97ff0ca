import { graphql, readFragment } from '@hero/graphql';
import { isRedirect } from '@sveltejs/kit';
import {
  type PickedUser,
  USER_MATCH_LIMIT,
  USER_QUERY_MAX_LENGTH,
  type UserChoice,
  UUID,
} from '#lib/components/users/user-choice.ts';
import { type AdminEvent, adminGql } from './admin.ts';
import { UserRefFields } from './admin-fragments.ts';
import { describeApiError } from './api.ts';

const USER_BY_ID = graphql(
  `
    query AdminPickedUser($id: ID!) {
      user(id: $id) {
        ...UserRefFields
      }
    }
  `,
  [UserRefFields],
);

const SEARCH_USERS = graphql(
  `
    query AdminSearchUsers($search: String!, $first: Int!) {
      users(search: $search, first: $first, orderBy: EMAIL_ASC) {
        edges {
          node {
            ...UserRefFields
          }
        }
      }
    }
  `,
  [UserRefFields],
);

/** Users whose email or name contains `text`, by email; up to USER_MATCH_LIMIT + 1 (to tell "more"). */
export async function searchUsers(event: AdminEvent, text: string): Promise<PickedUser[]> {
  const { users } = await adminGql(event, SEARCH_USERS, { search: text, first: USER_MATCH_LIMIT + 1 });
  return users.edges.map((e) => readFragment(UserRefFields, e.node));
}

/**
 * The user a picker names: the posted `userId` when there is one (the picker chose it, or a
 * link carried it), else the typed text resolved here, so the form works without JavaScript:
 * an id, an exact email, or a part of an email or name that only one user has. Several
 * matches come back for the operator to choose from. API errors are thrown (as from adminGql).
 */
export async function resolveUserChoice(
  event: AdminEvent,
  input: { userId?: string; query?: string },
): Promise<UserChoice> {
  const userId = input.userId?.trim() ?? '';
  const query = input.query?.trim() ?? '';
  const byId = userId || (UUID.test(query) ? query : '');
  if (byId) {
    const user = UUID.test(byId)
      ? readFragment(UserRefFields, (await adminGql(event, USER_BY_ID, { id: byId })).user)
      : null;
    return user
      ? { query: user.email, user, matches: [], problem: null }
      : { query: query || byId, user: null, matches: [], problem: 'No user has this id.' };
  }
  if (!query) return { query: '', user: null, matches: [], problem: null };
  if (query.length > USER_QUERY_MAX_LENGTH)
    return {
      query: '',
      user: null,
      matches: [],
      problem: 'Type a part of the email or name (that was too long).',
    };

  const found = await searchUsers(event, query);
  const exact = found.find((u) => u.email.toLowerCase() === query.toLowerCase());
  const user = exact ?? (found.length === 1 ? found[0] : null);
  if (user) return { query: user.email, user, matches: [], problem: null };
  if (found.length === 0)
    return { query, user: null, matches: [], problem: `No user’s email or name contains “${query}”.` };
  const more = found.length > USER_MATCH_LIMIT;
  const matches = found.slice(0, USER_MATCH_LIMIT);
  return {
    query,
    user: null,
    matches,
    problem: more
      ? `More than ${USER_MATCH_LIMIT} users match “${query}”: choose one of the first ${USER_MATCH_LIMIT}, or type more of the email.`
      : `${matches.length} users match “${query}”: choose one.`,
  };
}

/**
 * resolveUserChoice for a page: an API failure becomes the field's problem (the page still
 * renders; redirects to the login page still fly).
 */
export async function loadUserChoice(
  event: AdminEvent,
  input: { userId?: string; query?: string },
): Promise<UserChoice> {
  try {
    return await resolveUserChoice(event, input);
  } catch (err) {
    if (isRedirect(err)) throw err;
    return {
      query: input.query?.trim() || input.userId?.trim() || '',
      user: null,
      matches: [],
      problem: describeApiError(err).message,
    };
  }
}
