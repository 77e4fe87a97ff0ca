import { graphql } from '@hero/graphql';
import { validationFailure } from '../client.ts';
import { defineCommand } from '../command.ts';
import { formatJson, formatKeyValues } from '../format.ts';

export const CREATE_USER = graphql(`mutation CreateUser($input: CreateUserInput!) {
  createUser(input: $input) {
    __typename
    ... on CreateUserSuccess { payload { token user { id email displayName } } }
    ... on ValidationError { code message problems { path message } }
  }
}`);

/** The display name a new user gets without --name: the email's local part. */
export function defaultDisplayName(email: string): string {
  const at = email.lastIndexOf('@');
  return at > 0 ? email.slice(0, at) : email;
}

export const usersCreate = defineCommand({
  name: 'users create',
  summary: 'create a user and print its API token (shown once)',
  options: {
    email: { type: 'string', value: '<email>', required: true, help: "the user's email, required" },
    name: {
      type: 'string',
      value: '<display name>',
      help: "display name (default: the email's local part)",
    },
  },
  parse(values) {
    const email = values.required('email').trim();
    const name = values.string('name')?.trim();
    return { email, displayName: name || defaultDisplayName(email) };
  },
  uses: 'api',
  async run({ client, json, io }, { email, displayName }) {
    const { createUser: result } = await client.request(CREATE_USER, { input: { email, displayName } });
    if (result.__typename === 'ValidationError') throw validationFailure('the user was not created', result);
    const { user, token } = result.payload;
    if (json) return io.out(formatJson({ user, token }));
    io.out(
      formatKeyValues([
        ['id', user.id],
        ['email', user.email],
        ['name', user.displayName],
        ['token', token],
      ]),
    );
    io.out('The token is shown only once (the API keeps only its hash): store it now.\n');
  },
});
