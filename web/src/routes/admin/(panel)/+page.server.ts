import { adminQuery } from '#lib/server/admin.ts';
import type { PageServerLoad } from './$types';

const OVERVIEW = /* GraphQL */ `
  query AdminOverview {
    overview {
      totalUsers
      totalBalanceCents
      consumedRecords
      rejectedRecords
      activeAllocations
      pool {
        total
        free
        allocated
      }
      aggregator {
        lastRunAt
        lastRunStatus
        lastSuccessAt
        failingNodes {
          nodeName
          lastError
          lastRunAt
        }
      }
      ledger {
        lastCheckedAt
        lastRunStatus
        usersDrifted
        totalDriftCents
        chainBreaks
      }
    }
    billing(first: 1) {
      edges {
        node {
          currency
        }
      }
    }
  }
`;

/** Separate: `pool` answers PROVISIONER_UNAVAILABLE without a provisioner. */
const POOL_STATES = /* GraphQL */ `
  query AdminOverviewPool {
    maintenance: pool(status: MAINTENANCE) {
      id
    }
    retired: pool(status: RETIRED) {
      id
    }
  }
`;

interface Overview {
  totalUsers: number;
  totalBalanceCents: number;
  consumedRecords: number;
  rejectedRecords: number;
  activeAllocations: number;
  pool: { total: number; free: number; allocated: number };
  aggregator: {
    lastRunAt: string | null;
    lastRunStatus: string | null;
    lastSuccessAt: string | null;
    failingNodes: { nodeName: string; lastError: string; lastRunAt: string | null }[];
  };
  ledger: {
    lastCheckedAt: string | null;
    lastRunStatus: string | null;
    usersDrifted: number | null;
    totalDriftCents: number | null;
    chainBreaks: number | null;
  };
}

export const load: PageServerLoad = async (event) => {
  const [main, pool] = await Promise.all([
    adminQuery<{ overview: Overview; billing: { edges: { node: { currency: string } }[] } }>(event, OVERVIEW),
    adminQuery<{ maintenance: { id: string }[]; retired: { id: string }[] }>(event, POOL_STATES),
  ]);
  return {
    overview: main.data?.overview ?? null,
    currency: main.data?.billing.edges[0]?.node.currency ?? null,
    error: main.error,
    poolStates: pool.data
      ? { maintenance: pool.data.maintenance.length, retired: pool.data.retired.length }
      : null,
    poolError: pool.error,
  };
};
