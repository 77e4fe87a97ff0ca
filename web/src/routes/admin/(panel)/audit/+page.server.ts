import { graphql } from '@hero/graphql';
import { adminQuery, connectionArgs, enumParam, nodes, pageInfoOf, param } from '#lib/server/admin.ts';
import { PageInfoFields } from '#lib/server/admin-fragments.ts';
import { loadUserChoice } from '#lib/server/user-choice.ts';
import type { PageServerLoad } from './$types';

const ACTOR_KINDS = ['ADMIN_SECRET', 'ADMIN_SESSION', 'OPERATOR', 'USER', 'ANONYMOUS'] as const;
/** The kinds of record an entry's target can be (the api's `targetType`). */
const TARGET_KINDS = ['user', 'payment', 'allocation', 'operator', 'api_token', 'session'] as const;

const AUDIT_LOG = graphql(
  `
    query AdminAuditLog(
      $action: String
      $actorKind: AuditActorKind
      $targetId: String
      $targetType: String
      $first: Int
      $after: String
      $last: Int
      $before: String
    ) {
      auditLog(
        action: $action
        actorKind: $actorKind
        targetId: $targetId
        targetType: $targetType
        first: $first
        after: $after
        last: $last
        before: $before
      ) {
        edges {
          node {
            id
            at
            actorKind
            actorId
            actorUser {
              id
              email
              displayName
            }
            role
            action
            targetType
            targetId
            targetUser {
              id
              email
              displayName
            }
            input
            outcome
            requestId
            clientIp
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

export const load: PageServerLoad = async (event) => {
  const action = param(event.url, 'action');
  const actorKind = enumParam(event.url, 'actorKind', ACTOR_KINDS);
  const kind = param(event.url, 'targetType');
  const targetType = TARGET_KINDS.find((k) => k === kind);
  // A user chosen by name or email is the target; another record (an allocation, an operator…)
  // comes from a row's target link (`targetId`), never typed in.
  const userChoice = await loadUserChoice(event, {
    userId: param(event.url, 'userId'),
    query: param(event.url, 'user'),
  });
  const targetId = userChoice.user?.id ?? param(event.url, 'targetId');
  const result = await adminQuery(event, AUDIT_LOG, {
    action,
    actorKind,
    targetId,
    targetType,
    ...connectionArgs(event.url),
  });
  return {
    filters: {
      action: action ?? '',
      actorKind: actorKind ?? '',
      targetType: targetType ?? '',
      targetId: userChoice.user ? '' : (targetId ?? ''),
    },
    userChoice,
    actorKinds: ACTOR_KINDS,
    targetKinds: TARGET_KINDS,
    entries: nodes(result.data?.auditLog),
    pageInfo: pageInfoOf(result.data?.auditLog),
    error: result.error,
  };
};
