import { graphql } from '@hero/graphql';
import { refused, validationFailure } from '../client.ts';
import { defineCommand } from '../command.ts';
import { formatJson, formatKeyValues } from '../format.ts';

export const CREATE_USER = graphql(`mutation CreateUser($input: CreateUserInput!) {
  createUser(input: $input) {
    __typename
    ... on CreateUserSuccess { payload { token invitationUrl user { id email displayName } } }
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
  summary: 'create a user, email them an invitation, and print its link and API token (shown once)',
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
    const { user, token, invitationUrl } = result.payload;
    if (json) return io.out(formatJson({ user, token, invitationUrl }));
    io.out(
      formatKeyValues([
        ['id', user.id],
        ['email', user.email],
        ['name', user.displayName],
        ['token', token],
        ['invitation', invitationUrl],
      ]),
    );
    io.out(
      'The invitation link (also emailed to the user) sets their password once; the link and the token are shown only once (the API keeps only their hashes): store the token now.\n',
    );
  },
});

export const RESEND_INVITATION = graphql(`mutation ResendInvitation($userId: ID!) {
  resendInvitation(userId: $userId) {
    __typename
    ... on ResendInvitationSuccess { payload { invitationUrl user { id email } } }
    ... on Error { code message }
  }
}`);

export const usersInvite = defineCommand({
  name: 'users invite',
  summary: 'email a user a new set-password link and print it (the previous link stops working)',
  options: {
    user: { type: 'string', value: '<userId>', required: true, help: 'the user, required' },
  },
  parse: (values) => ({ userId: values.required('user').trim() }),
  uses: 'api',
  async run({ client, json, io }, { userId }) {
    const { resendInvitation: result } = await client.request(RESEND_INVITATION, { userId });
    if (result.__typename !== 'ResendInvitationSuccess') throw refused('the invitation was not sent', result);
    const { user, invitationUrl } = result.payload;
    if (json) return io.out(formatJson({ user, invitationUrl }));
    io.out(
      formatKeyValues([
        ['id', user.id],
        ['email', user.email],
        ['invitation', invitationUrl],
      ]),
    );
    io.out('The link is emailed to the user and works once; earlier invitation links no longer work.\n');
  },
});
