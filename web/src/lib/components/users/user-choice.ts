/**
 * What the user picker shows and posts, shared by the server (which resolves a typed text
 * when JavaScript did not pick a user) and the component.
 */
export interface PickedUser {
  id: string;
  email: string;
  displayName: string;
}

/** A user field's state after the server looked at it. */
export interface UserChoice {
  /** What the operator typed (or the picked user's email). */
  query: string;
  /** The user it names, when it names exactly one. */
  user: PickedUser | null;
  /** Several users matched the typed text: the operator chooses one of these. */
  matches: PickedUser[];
  /** Why no user was taken (typed text that matches none or several, an unknown id). */
  problem: string | null;
}

export const NO_USER_CHOICE: UserChoice = { query: '', user: null, matches: [], problem: null };

/** Most users a search shows; one more is fetched to know there are more. */
export const USER_MATCH_LIMIT = 8;

/** The API's limit on a search text. */
export const USER_QUERY_MAX_LENGTH = 200;

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
