import { graphql, type ResultOf } from '@hero/graphql';

/** What the dashboard's plan tile reads of the signed-in user. */
export const PlanTileFields = graphql(`
  fragment PlanTileFields on User {
    planStatus {
      planCode
      planName
      periodEnd
      autoRenew
      renewal {
        periods
        priceCents
        currency
        plan {
          periodDays
        }
      }
    }
  }
`);

export type PlanTileData = ResultOf<typeof PlanTileFields>['planStatus'];
