import { fail } from '@sveltejs/kit';
import type { Connection, Done } from '#lib/components/admin/types.ts';
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
  param,
  type UnionError,
} from '#lib/server/admin.ts';
import { PAGE_ARGUMENTS, PAGE_INFO, PAGE_VARIABLES } from '#lib/server/admin-fragments.ts';
import type { Actions, PageServerLoad } from './$types';

const STATUSES = ['ACTIVE', 'RELEASED'] as const;
const ORDERS = ['ALLOCATED_DESC', 'ALLOCATED_ASC', 'EXPIRES_ASC', 'EXPIRES_DESC'] as const;

const ALLOCATIONS = /* GraphQL */ `
  query AdminAllocations($status: AllocationStatus, $userId: ID, $orderBy: AllocationOrder, ${PAGE_VARIABLES}) {
    allocations(status: $status, userId: $userId, orderBy: $orderBy, ${PAGE_ARGUMENTS}) {
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
      ${PAGE_INFO}
    }
  }
`;

const RELEASE = /* GraphQL */ `
  mutation AdminReleaseAllocation($id: ID!) {
    releaseAllocation(id: $id) {
      __typename
      ... on Error {
        code
        message
      }
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
`;

interface AllocationRow {
  id: string;
  status: string;
  provisioner: string;
  allocatedAt: string;
  expiresAt: string;
  expiringSoon: boolean;
  releasedAt: string | null;
  releaseReason: string | null;
  cockpitUrl: string | null;
  user: { id: string; email: string; displayName: string; vmQuotaPeriodEnd: string | null };
  poolVm: { id: string; name: string; host: string | null };
}

export const load: PageServerLoad = async (event) => {
  const { url } = event;
  const status = enumParam(url, 'status', STATUSES);
  const userId = param(url, 'userId');
  const orderBy = enumParam(url, 'orderBy', ORDERS) ?? 'ALLOCATED_DESC';
  const result = await adminQuery<{ allocations: Connection<AllocationRow> }>(event, ALLOCATIONS, {
    status,
    userId,
    orderBy,
    ...connectionArgs(url),
  });
  return {
    filters: { status: status ?? '', userId: userId ?? '', orderBy },
    allocations: nodes(result.data?.allocations),
    pageInfo: result.data?.allocations.pageInfo ?? null,
    error: result.error,
  };
};

type ReleaseResult =
  | {
      __typename: 'ReleaseAllocationSuccess';
      allocation: {
        id: string;
        status: string;
        releaseReason: string | null;
        poolVm: { id: string; name: string };
      };
    }
  | UnionError;

export const actions: Actions = {
  release: async (event) => {
    const form = await event.request.formData();
    const id = field(form, 'id');
    if (!id) return fail(400, { release: badInput('Which allocation? The id is missing.') });
    // Without JavaScript the Release button posts straight here: ask first (no-JS confirm).
    if (field(form, 'confirmed') !== 'yes') return { confirmRelease: { id } };

    let result: ReleaseResult;
    try {
      ({ releaseAllocation: result } = await adminGql<{ releaseAllocation: ReleaseResult }>(event, RELEASE, {
        id,
      }));
    } catch (err) {
      return fail(503, { release: failedFrom(err) });
    }
    if ('allocation' in result) {
      const a = result.allocation;
      return {
        release: {
          ok: true,
          message: `Allocation ${a.id} released: ${a.poolVm.name} (${a.poolVm.id}) is no longer held.`,
          id: a.id,
        } satisfies Done<{ id: string }>,
      };
    }
    return fail(404, { release: failedFromUnion(result) });
  },
};
