import { graphql } from '@hero/graphql';
import { collectPages, refused } from '../client.ts';
import { defineCommand } from '../command.ts';
import { formatJson, formatKeyValues, formatTable, formatTime } from '../format.ts';
import { resolveOptionalUser, USER_REF_VALUE } from '../user-ref.ts';
import { dateTime } from '../values.ts';

const ALLOCATION_STATUSES = ['ACTIVE', 'RELEASED'] as const;
const DEFAULT_ALLOCATIONS_LIMIT = 100;

export const ALLOCATIONS =
  graphql(`query Allocations($status: AllocationStatus, $userId: ID, $first: Int, $after: String) {
  allocations(status: $status, userId: $userId, first: $first, after: $after) {
    edges { node {
      id userId user { email } poolVm { id } provisioner status allocatedAt expiresAt releasedAt releaseReason cockpitUrl
    } }
    pageInfo { hasNextPage endCursor }
  }
}`);

export const allocationsList = defineCommand({
  name: 'allocations list',
  summary: 'list allocations, newest first',
  options: {
    status: {
      type: 'string',
      value: ALLOCATION_STATUSES.join('|'),
      help: 'only allocations with this status',
    },
    user: { type: 'string', value: USER_REF_VALUE, help: "only this user's allocations (by email or id)" },
    limit: {
      type: 'string',
      value: '<n>',
      help: `at most this many (default ${DEFAULT_ALLOCATIONS_LIMIT}; pages are followed)`,
    },
  },
  parse: (values) => ({
    status: values.oneOf('status', ALLOCATION_STATUSES),
    user: values.optionalUser('user'),
    limit: values.positiveInt('limit', DEFAULT_ALLOCATIONS_LIMIT),
  }),
  uses: 'api',
  async run({ client, json, io }, { status, user, limit }) {
    const userId = await resolveOptionalUser(client, user);
    const allocations = await collectPages(limit, async (first, after) => {
      const data = await client.request(ALLOCATIONS, {
        status: status ?? null,
        userId: userId ?? null,
        first,
        after,
      });
      return data.allocations;
    });
    if (json) return io.out(formatJson(allocations));
    if (allocations.length === 0) return io.out('no allocations\n');
    io.out(
      formatTable(
        [
          'id',
          'user email',
          'user id',
          'pool VM',
          'status',
          'allocated at',
          'expires at',
          'released at',
          'reason',
        ],
        allocations.map((a) => [
          a.id,
          a.user.email,
          a.userId,
          a.poolVm.id,
          a.status,
          formatTime(a.allocatedAt),
          formatTime(a.expiresAt),
          formatTime(a.releasedAt),
          a.releaseReason,
        ]),
      ),
    );
  },
});

// --- allocations extend -----------------------------------------------------------------------

export const EXTEND_ALLOCATION =
  graphql(`mutation ExtendAllocation($id: ID!, $expiresAt: DateTime!, $reason: String!) {
  extendAllocation(id: $id, expiresAt: $expiresAt, reason: $reason) {
    __typename
    ... on ExtendAllocationSuccess {
      result {
        allocation { id userId user { email } poolVm { id } status expiresAt }
        extension { id previousExpiresAt expiresAt reason createdAt }
      }
    }
    ... on Error { code message }
    ... on ValidationError { problems { path message } }
  }
}`);

export const allocationsExtend = defineCommand({
  name: 'allocations extend',
  summary: "move one ACTIVE allocation's end later, with a reason",
  description:
    "Moves one ACTIVE allocation's end later (mutation extendAllocation): a goodwill day, a support\n" +
    "case. The reason is kept in the allocation's history. The new end must be later than the\n" +
    'current one and at most 3660 days ahead; a released allocation is refused (ALLOCATION_NOT_ACTIVE).\n' +
    "A later change of the user's plan period re-dates it with the plan's other VMs.",
  options: {
    allocation: { type: 'string', value: '<allocationId>', required: true, help: 'the allocation, required' },
    until: {
      type: 'string',
      value: '<date-time>',
      required: true,
      help: 'the new end, ISO 8601 with offset (2026-12-24T18:00:00Z), required',
    },
    reason: { type: 'string', value: '<text>', required: true, help: 'why, 1 to 500 characters, required' },
  },
  parse: (values) => ({
    id: values.required('allocation').trim(),
    expiresAt: dateTime('until', values.required('until')),
    reason: values.required('reason'),
  }),
  uses: 'api',
  async run({ client, json, io }, args) {
    const { extendAllocation: result } = await client.request(EXTEND_ALLOCATION, {
      id: args.id,
      expiresAt: args.expiresAt,
      reason: args.reason,
    });
    if (result.__typename !== 'ExtendAllocationSuccess')
      throw refused('the allocation was not extended', result);
    if (json) return io.out(formatJson(result.result));
    const { allocation: a, extension: e } = result.result;
    io.out(
      formatKeyValues([
        ['id', a.id],
        ['user', `${a.userId} (${a.user.email})`],
        ['pool VM', a.poolVm.id],
        ['status', a.status],
        ['expires at', formatTime(e.expiresAt)],
        ['was', formatTime(e.previousExpiresAt)],
        ['reason', e.reason],
      ]),
    );
  },
});

// --- allocations release ----------------------------------------------------------------------

export const RELEASE_ALLOCATION = graphql(`mutation ReleaseAllocation($id: ID!) {
  releaseAllocation(id: $id) {
    __typename
    ... on ReleaseAllocationSuccess {
      allocation { id userId user { email } poolVm { id } status allocatedAt expiresAt releasedAt releaseReason }
    }
    ... on Error { code message }
  }
}`);

export const allocationsRelease = defineCommand({
  name: 'allocations release',
  summary: 'release one allocation now (reason ADMIN); a released one is answered unchanged',
  description:
    'Releases one allocation (mutation releaseAllocation, reason ADMIN): its pool VM is free for\n' +
    'the next user. Releasing an allocation that is already released changes nothing: the API\n' +
    'answers it as it is (its first release time and reason), and so does this command.',
  options: {
    allocation: { type: 'string', value: '<allocationId>', required: true, help: 'the allocation, required' },
  },
  parse: (values) => ({ id: values.required('allocation').trim() }),
  uses: 'api',
  async run({ client, json, io }, { id }) {
    const { releaseAllocation: result } = await client.request(RELEASE_ALLOCATION, { id });
    if (result.__typename !== 'ReleaseAllocationSuccess')
      throw refused('the allocation was not released', result);
    const a = result.allocation;
    if (json) return io.out(formatJson(a));
    io.out(
      formatKeyValues([
        ['id', a.id],
        ['user', `${a.userId} (${a.user.email})`],
        ['pool VM', a.poolVm.id],
        ['status', a.status],
        ['allocated at', formatTime(a.allocatedAt)],
        ['released at', formatTime(a.releasedAt)],
        ['reason', a.releaseReason],
      ]),
    );
  },
});
