import { graphql } from '@hero/graphql';
import { adminQuery, connectionArgs, enumParam, nodes, pageInfoOf, param } from '#lib/server/admin.ts';
import { PageInfoFields } from '#lib/server/admin-fragments.ts';
import { loadUserChoice } from '#lib/server/user-choice.ts';
import type { PageServerLoad } from './$types';

const ACTOR_KINDS = ['ADMIN_SECRET', 'ADMIN_SESSION', 'OPERATOR', 'USER', 'ANONYMOUS'] as const;

const AUDIT_LOG = graphql(
  `
    query AdminAuditLog(
      $action: String
      $actorKind: AuditActorKind
      $targetId: String
      $first: Int
      $after: String
      $last: Int
      $before: String
    ) {
      auditLog(
        action: $action
        actorKind: $actorKind
        targetId: $targetId
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
  // A user chosen by name or email is the target; other records (VMs, allocations…) by their id.
  const userChoice = await loadUserChoice(event, {
    userId: param(event.url, 'userId'),
    query: param(event.url, 'user'),
  });
  const targetId = userChoice.user?.id ?? param(event.url, 'targetId');
  const result = await adminQuery(event, AUDIT_LOG, {
    action,
    actorKind,
    targetId,
    ...connectionArgs(event.url),
  });
  return {
    filters: {
      action: action ?? '',
      actorKind: actorKind ?? '',
      targetId: userChoice.user ? '' : (targetId ?? ''),
    },
    userChoice,
    actorKinds: ACTOR_KINDS,
    entries: nodes(result.data?.auditLog),
    pageInfo: pageInfoOf(result.data?.auditLog),
    error: result.error,
  };
};
