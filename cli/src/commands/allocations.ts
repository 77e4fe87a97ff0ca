import { graphql } from '@hero/graphql';
import { collectPages } from '../client.ts';
import { defineCommand } from '../command.ts';
import { formatJson, formatTable, formatTime } from '../format.ts';

const ALLOCATION_STATUSES = ['ACTIVE', 'RELEASED'] as const;
const DEFAULT_ALLOCATIONS_LIMIT = 100;

export const ALLOCATIONS =
  graphql(`query Allocations($status: AllocationStatus, $userId: ID, $first: Int, $after: String) {
  allocations(status: $status, userId: $userId, first: $first, after: $after) {
    edges { node {
      id userId poolVm { id } provisioner status allocatedAt expiresAt releasedAt releaseReason cockpitUrl
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
    user: { type: 'string', value: '<id>', help: "only this user's allocations" },
    limit: {
      type: 'string',
      value: '<n>',
      help: `at most this many (default ${DEFAULT_ALLOCATIONS_LIMIT}; pages are followed)`,
    },
  },
  parse: (values) => ({
    status: values.oneOf('status', ALLOCATION_STATUSES),
    userId: values.string('user') === undefined ? undefined : values.required('user'),
    limit: values.positiveInt('limit', DEFAULT_ALLOCATIONS_LIMIT),
  }),
  uses: 'api',
  async run({ client, json, io }, { status, userId, limit }) {
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
        ['id', 'user', 'pool VM', 'status', 'allocated at', 'expires at', 'released at', 'reason'],
        allocations.map((a) => [
          a.id,
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
