import { graphql, type ResultOf, readFragment } from '@hero/graphql';
import { fail } from '@sveltejs/kit';
import type { Done } from '#lib/components/admin/types.ts';
import {
  adminGql,
  adminQuery,
  badInput,
  connectionArgs,
  enumParam,
  failedFrom,
  failedFromUnion,
  field,
  nodes,
  pageInfoOf,
  param,
} from '#lib/server/admin.ts';
import { ErrorFields, PageInfoFields } from '#lib/server/admin-fragments.ts';
import { loadUserChoice } from '#lib/server/user-choice.ts';
import type { Actions, PageServerLoad } from './$types';

const STATUSES = ['ACTIVE', 'RELEASED'] as const;
const ORDERS = ['ALLOCATED_DESC', 'ALLOCATED_ASC', 'EXPIRES_ASC', 'EXPIRES_DESC'] as const;

const ALLOCATIONS = graphql(
  `
    query AdminAllocations(
      $status: AllocationStatus
      $userId: ID
      $orderBy: AllocationOrder
      $first: Int
      $after: String
      $last: Int
      $before: String
    ) {
      allocations(
        status: $status
        userId: $userId
        orderBy: $orderBy
        first: $first
        after: $after
        last: $last
        before: $before
      ) {
        edges {
          node {
            id
            status
            provisioner
            allocatedAt
            expiresAt
            expiringSoon
            releasedAt
            releaseReason
            cockpitUrl
            user {
              id
              email
              displayName
              vmQuotaPeriodEnd
            }
            poolVm {
              id
              name
              host
            }
          }
        }
        pageInfo {
          ...PageInfoFields
        }
      }
    }
  `,
  [PageInfoFields],
);

const RELEASE = graphql(
  `
    mutation AdminReleaseAllocation($id: ID!) {
      releaseAllocation(id: $id) {
        __typename
        ...ErrorFields
        ... on ReleaseAllocationSuccess {
          allocation {
            id
            status
            releaseReason
            poolVm {
              id
              name
            }
          }
        }
      }
    }
  `,
  [ErrorFields],
);

export const load: PageServerLoad = async (event) => {
  const { url } = event;
  const status = enumParam(url, 'status', STATUSES);
  const userChoice = await loadUserChoice(event, { userId: param(url, 'userId'), query: param(url, 'user') });
  const userId = userChoice.user?.id;
  const orderBy = enumParam(url, 'orderBy', ORDERS) ?? 'ALLOCATED_DESC';
  const result = await adminQuery(event, ALLOCATIONS, { status, userId, orderBy, ...connectionArgs(url) });
  return {
    filters: { status: status ?? '', userId: userId ?? '', orderBy },
    userChoice,
    allocations: nodes(result.data?.allocations),
    pageInfo: pageInfoOf(result.data?.allocations),
    error: result.error,
  };
};

export const actions: Actions = {
  release: async (event) => {
    const form = await event.request.formData();
    const id = field(form, 'id');
    if (!id) return fail(400, { release: badInput('Which allocation? The id is missing.') });
    // Without JavaScript the Release button posts straight here: ask first (no-JS confirm).
    if (field(form, 'confirmed') !== 'yes') return { confirmRelease: { id } };

    let result: ResultOf<typeof RELEASE>['releaseAllocation'];
    try {
      ({ releaseAllocation: result } = await adminGql(event, RELEASE, { id }));
    } catch (err) {
      return fail(503, { release: failedFrom(err) });
    }
    if (result.__typename === 'ReleaseAllocationSuccess') {
      const a = result.allocation;
      return {
        release: {
          ok: true,
          message: `Allocation ${a.id} released: ${a.poolVm.name} (${a.poolVm.id}) is no longer held.`,
          id: a.id,
        } satisfies Done<{ id: string }>,
      };
    }
    return fail(404, { release: failedFromUnion(readFragment(ErrorFields, result)) });
  },
};
