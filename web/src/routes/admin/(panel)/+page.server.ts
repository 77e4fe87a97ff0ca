import { graphql } from '@hero/graphql';
import { adminQuery } from '#lib/server/admin.ts';
import type { PageServerLoad } from './$types';

const OVERVIEW = graphql(`
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
`);

/** Separate: `pool` answers PROVISIONER_UNAVAILABLE without a provisioner. */
const POOL_STATES = graphql(`
  query AdminOverviewPool {
    maintenance: pool(status: MAINTENANCE) {
      id
    }
    retired: pool(status: RETIRED) {
      id
    }
  }
`);

export const load: PageServerLoad = async (event) => {
  const [main, pool] = await Promise.all([adminQuery(event, OVERVIEW), adminQuery(event, POOL_STATES)]);
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
