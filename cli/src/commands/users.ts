import { graphql } from '@hero/graphql';
import { collectPages, refused, validationFailure } from '../client.ts';
import { defineCommand } from '../command.ts';
import { CliError, printable, UsageError } from '../errors.ts';
import { formatJson, formatKeyValues, formatMoney, formatTable, formatTime } from '../format.ts';
import { resolveUser, USER_REF_VALUE } from '../user-ref.ts';
import { dateTime, wholeNumber } from '../values.ts';

/** The `--user` of the commands that act on one user: required, by email or id. */
const USER_OPTION = {
  type: 'string',
  value: USER_REF_VALUE,
  required: true,
  help: 'the user, by email or id, required',
} as const;

const DEFAULT_USERS_LIMIT = 50;

// --- users list ---------------------------------------------------------------------------------

const USER_STATUSES = ['ACTIVE', 'SUSPENDED', 'DELETED'] as const;

export const USERS = graphql(`query Users($search: String, $status: UserStatus, $first: Int, $after: String) {
  users(search: $search, status: $status, first: $first, after: $after) {
    edges { node {
      id email displayName status emailVerified vmQuota vmQuotaPeriodEnd createdAt
      billing { creditBalanceCents currency }
    } }
    pageInfo { hasNextPage endCursor }
  }
}`);

export const usersList = defineCommand({
  name: 'users list',
  summary: 'list users, newest first, optionally those whose email or name contains a text',
  options: {
    search: {
      type: 'string',
      value: '<text>',
      help: 'only users whose email or display name contains this (any case)',
    },
    status: {
      type: 'string',
      value: USER_STATUSES.join('|'),
      help: 'only users with this status (e.g. SUSPENDED: the accounts under review)',
    },
    limit: {
      type: 'string',
      value: '<n>',
      help: `at most this many (default ${DEFAULT_USERS_LIMIT}; pages are followed)`,
    },
  },
  parse: (values) => ({
    search: values.optional('search'),
    status: values.oneOf('status', USER_STATUSES),
    limit: values.positiveInt('limit', DEFAULT_USERS_LIMIT),
  }),
  uses: 'api',
  async run({ client, json, io }, { search, status, limit }) {
    const users = await collectPages(limit, async (first, after) => {
      const data = await client.request(USERS, {
        search: search ?? null,
        status: status ?? null,
        first,
        after,
      });
      return data.users;
    });
    if (json) return io.out(formatJson(users));
    if (users.length === 0) return io.out(search || status ? 'no users match\n' : 'no users\n');
    io.out(
      formatTable(
        ['id', 'email', 'status', 'email verified', 'balance', 'vm quota', 'period end', 'created'],
        users.map((u) => [
          u.id,
          u.email,
          u.status,
          u.emailVerified,
          formatMoney(u.billing.creditBalanceCents, u.billing.currency),
          u.vmQuota,
          formatTime(u.vmQuotaPeriodEnd),
          formatTime(u.createdAt),
        ]),
      ),
    );
  },
});

// --- users show ---------------------------------------------------------------------------------

export const USER = graphql(`query User($id: ID!) {
  user(id: $id) {
    id email displayName status suspendedAt suspendedReason deletedAt emailVerified createdAt
    activeSessions vmQuota vmQuotaPeriodEnd
    billing { creditBalanceCents currency }
    allocations(status: ACTIVE) { id poolVm { id } expiresAt }
  }
}`);

export const usersShow = defineCommand({
  name: 'users show',
  summary: 'one user: status, email verified, balance, VM quota and period end, active VMs',
  options: {
    user: USER_OPTION,
  },
  parse: (values) => ({ user: values.user('user') }),
  uses: 'api',
  async run({ client, json, io }, { user: ref }) {
    const id = await resolveUser(client, ref);
    const { user } = await client.request(USER, { id });
    if (!user) throw new CliError(`no user with the id ${printable(id)}`);
    if (json) return io.out(formatJson(user));
    io.out(
      formatKeyValues([
        ['id', user.id],
        ['email', user.email],
        ['name', user.displayName],
        ['status', user.status],
        ...(user.suspendedAt
          ? ([
              ['suspended at', formatTime(user.suspendedAt)],
              ['reason', user.suspendedReason],
            ] as [string, string | null][])
          : []),
        ...(user.deletedAt
          ? ([['deleted at', formatTime(user.deletedAt)]] as [string, string | null][])
          : []),
        ['email verified', user.emailVerified],
        ['created', formatTime(user.createdAt)],
        ['balance', formatMoney(user.billing.creditBalanceCents, user.billing.currency)],
        ['currency', user.billing.currency],
        ['vm quota', user.vmQuota],
        ['period end', formatTime(user.vmQuotaPeriodEnd)],
        ['sessions', user.activeSessions],
        ['active vms', user.allocations.length],
      ]),
    );
    if (user.allocations.length > 0)
      io.out(
        `\n${formatTable(
          ['allocation', 'pool VM', 'expires at'],
          user.allocations.map((a) => [a.id, a.poolVm.id, formatTime(a.expiresAt)]),
        )}`,
      );
  },
});

// --- users set-quota ----------------------------------------------------------------------------

export const SET_USER_QUOTA =
  graphql(`mutation SetUserQuota($userId: ID!, $vmQuota: Int!, $periodEnd: DateTime) {
  setUserQuota(userId: $userId, vmQuota: $vmQuota, periodEnd: $periodEnd) {
    __typename
    ... on SetUserQuotaSuccess { user { id email vmQuota vmQuotaPeriodEnd } }
    ... on Error { code message }
    ... on ValidationError { problems { path message } }
  }
}`);

export const usersSetQuota = defineCommand({
  name: 'users set-quota',
  summary: "set a user's VM quota and plan period end (or clear the period)",
  description:
    'Sets how many ACTIVE VMs the user may hold and when their plan period ends (mutation\n' +
    "setUserQuota), as a plan purchase does: the user's ACTIVE allocations are re-dated to the new\n" +
    'end, and new ones expire then. --clear ends the plan (no new VM: NO_ACTIVE_PLAN); running\n' +
    'allocations keep their end. The quota is 0 to 10000 (more: BAD_USER_INPUT).',
  options: {
    user: USER_OPTION,
    quota: {
      type: 'string',
      value: '<n>',
      required: true,
      help: 'how many ACTIVE VMs the user may hold, a whole number 0 to 10000, required',
    },
    until: {
      type: 'string',
      value: '<date-time>',
      help: 'the plan period end, ISO 8601 with offset (2026-12-31T23:59:59Z); this or --clear',
    },
    clear: { type: 'boolean', help: 'no plan period end (the user gets no new VM); this or --until' },
  },
  parse(values) {
    const user = values.user('user');
    const vmQuota = wholeNumber('quota', values.required('quota'));
    const until = values.string('until');
    const clear = values.flag('clear');
    if (until !== undefined && clear) throw new UsageError('give --until <date-time> or --clear, not both');
    if (until === undefined && !clear) throw new UsageError('--until <date-time> or --clear is required');
    return { user, vmQuota, periodEnd: until === undefined ? null : dateTime('until', until) };
  },
  uses: 'api',
  async run({ client, json, io }, { user: ref, vmQuota, periodEnd }) {
    const userId = await resolveUser(client, ref);
    const { setUserQuota: result } = await client.request(SET_USER_QUOTA, { userId, vmQuota, periodEnd });
    if (result.__typename !== 'SetUserQuotaSuccess') throw refused('the quota was not set', result);
    const { user } = result;
    if (json) return io.out(formatJson({ user }));
    io.out(
      formatKeyValues([
        ['id', user.id],
        ['email', user.email],
        ['vm quota', user.vmQuota],
        ['period end', formatTime(user.vmQuotaPeriodEnd)],
      ]),
    );
  },
});

// --- users create -------------------------------------------------------------------------------

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
    user: USER_OPTION,
  },
  parse: (values) => ({ user: values.user('user') }),
  uses: 'api',
  async run({ client, json, io }, { user: ref }) {
    const userId = await resolveUser(client, ref);
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

export const SUSPEND_USER =
  graphql(`mutation SuspendUser($userId: ID!, $reason: String!, $releaseVms: Boolean) {
  suspendUser(userId: $userId, reason: $reason, releaseVms: $releaseVms) {
    __typename
    ... on SuspendUserSuccess { payload { sessionsEnded allocationsReleased user { id email status suspendedAt suspendedReason } } }
    ... on Error { code message }
    ... on ValidationError { problems { path message } }
  }
}`);

export const usersSuspend = defineCommand({
  name: 'users suspend',
  summary: 'suspend a user: no sign-in, API tokens or new VMs until unsuspended; ends their sessions',
  options: {
    user: USER_OPTION,
    reason: {
      type: 'string',
      value: '<text>',
      required: true,
      help: 'why, required (kept with the account, sent in the user.suspended event)',
    },
    'release-vms': { type: 'boolean', help: "also release the user's active VMs now (reason SUSPENDED)" },
  },
  parse: (values) => ({
    user: values.user('user'),
    reason: values.required('reason'),
    releaseVms: values.flag('release-vms'),
  }),
  uses: 'api',
  async run({ client, json, io }, { user: ref, reason, releaseVms }) {
    const userId = await resolveUser(client, ref);
    const { suspendUser: result } = await client.request(SUSPEND_USER, { userId, reason, releaseVms });
    if (result.__typename !== 'SuspendUserSuccess') throw refused('the user was not suspended', result);
    const { user, sessionsEnded, allocationsReleased } = result.payload;
    if (json) return io.out(formatJson(result.payload));
    io.out(
      formatKeyValues([
        ['id', user.id],
        ['email', user.email],
        ['status', user.status],
        ['suspended at', user.suspendedAt ?? ''],
        ['reason', user.suspendedReason ?? ''],
        ['sessions ended', String(sessionsEnded)],
        ['vms released', String(allocationsReleased)],
      ]),
    );
  },
});

export const UNSUSPEND_USER = graphql(`mutation UnsuspendUser($userId: ID!) {
  unsuspendUser(userId: $userId) {
    __typename
    ... on UnsuspendUserSuccess { user { id email status } }
    ... on Error { code message }
  }
}`);

export const usersUnsuspend = defineCommand({
  name: 'users unsuspend',
  summary: 'lift a suspension: sign-in, API tokens and allocation work again',
  options: {
    user: USER_OPTION,
  },
  parse: (values) => ({ user: values.user('user') }),
  uses: 'api',
  async run({ client, json, io }, { user: ref }) {
    const userId = await resolveUser(client, ref);
    const { unsuspendUser: result } = await client.request(UNSUSPEND_USER, { userId });
    if (result.__typename !== 'UnsuspendUserSuccess') throw refused('the user was not unsuspended', result);
    if (json) return io.out(formatJson({ user: result.user }));
    io.out(
      formatKeyValues([
        ['id', result.user.id],
        ['email', result.user.email],
        ['status', result.user.status],
      ]),
    );
  },
});

export const DELETE_USER =
  graphql(`mutation DeleteUser($userId: ID!, $confirmEmail: String!, $force: Boolean) {
  deleteUser(userId: $userId, confirmEmail: $confirmEmail, force: $force) {
    __typename
    ... on DeleteUserSuccess {
      payload { deletedAt allocationsReleased sessionsRemoved apiTokensRemoved balanceCents currency user { id status } }
    }
    ... on Error { code message }
    ... on ValidationError { problems { path message } }
  }
}`);

export const usersDelete = defineCommand({
  name: 'users delete',
  summary: "delete a user: personal data erased, VMs released; the ledger stays under the user's id",
  options: {
    user: USER_OPTION,
    'confirm-email': {
      type: 'string',
      value: '<email>',
      required: true,
      help: "the user's email, typed again, required (a guard against the wrong user)",
    },
    force: {
      type: 'boolean',
      help: "delete although the balance is above zero (the credit stays on the deleted account's ledger)",
    },
  },
  parse: (values) => ({
    user: values.user('user'),
    confirmEmail: values.required('confirm-email'),
    force: values.flag('force'),
  }),
  uses: 'api',
  async run({ client, json, io }, { user: ref, confirmEmail, force }) {
    const userId = await resolveUser(client, ref);
    const { deleteUser: result } = await client.request(DELETE_USER, { userId, confirmEmail, force });
    if (result.__typename !== 'DeleteUserSuccess') throw refused('the user was not deleted', result);
    const p = result.payload;
    if (json) return io.out(formatJson(p));
    io.out(
      formatKeyValues([
        ['id', p.user.id],
        ['status', p.user.status],
        ['deleted at', p.deletedAt],
        ['vms released', String(p.allocationsReleased)],
        ['sessions removed', String(p.sessionsRemoved)],
        ['api tokens removed', String(p.apiTokensRemoved)],
        ['balance kept', formatMoney(p.balanceCents, p.currency)],
      ]),
    );
  },
});
