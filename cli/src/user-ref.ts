import { graphql } from '@hero/graphql';
import type { ApiClient } from './client.ts';
import { CliError, printable, UsageError } from './errors.ts';

/**
 * A user as an operator names one on the command line: by email address (looked up through the
 * API) or by id (sent as given). Every option that names a user goes through here.
 */
export type UserRef = { email: string } | { id: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Enough of an address to look it up; whether one is stored is the API's answer. */
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** What the help shows as the value of such an option. */
export const USER_REF_VALUE = '<email|id>';

/**
 * `--<flag> ada@example.org` or `--<flag> <uuid>`. Anything else (a name, a part of an email) is a
 * usage error: a partial match could name several users, and the CLI never picks one of them.
 */
export function userRef(flag: string, value: string): UserRef {
  const text = value.trim();
  if (UUID.test(text)) return { id: text };
  if (EMAIL.test(text)) return { email: text.toLowerCase() };
  throw new UsageError(
    `--${flag} must be a user's whole email address or their id (got "${printable(value)}"; a part of an email or a name could match several users)`,
  );
}

export const USER_BY_EMAIL = graphql(`query UserByEmail($email: String!) {
  users(email: $email, first: 2) { edges { node { id email } } }
}`);

/**
 * The id of the user `ref` names. An email is looked up exactly (case-insensitive); none is a
 * failure naming the email (exit 1, as the API's NOT_FOUND), and more than one is refused rather
 * than guessed. An id is not looked up: the command's own request answers NOT_FOUND for it.
 */
export async function resolveUser(client: ApiClient, ref: UserRef): Promise<string> {
  if ('id' in ref) return ref.id;
  const { users } = await client.request(USER_BY_EMAIL, { email: ref.email });
  const found = users.edges.map((e) => e.node);
  const email = printable(ref.email);
  if (found.length === 0) throw new CliError(`no user with the email ${email}`);
  if (found.length > 1)
    throw new CliError(`more than one user with the email ${email}; name the user by id instead`);
  return found[0].id;
}

/** `resolveUser` for an optional filter: absent stays undefined. */
export async function resolveOptionalUser(
  client: ApiClient,
  ref: UserRef | undefined,
): Promise<string | undefined> {
  return ref === undefined ? undefined : resolveUser(client, ref);
}
