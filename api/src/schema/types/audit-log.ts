import { AUDIT_ACTOR_KINDS, type AuditRow, listAuditLog } from '@hero/core/audit/audit-log';
import { ValidationError } from '@hero/core/errors';
import { builder } from '../builder.ts';
import { UserType } from './user.ts';

export const AuditActorKindEnum = builder.enumType('AuditActorKind', {
  values: Object.fromEntries(
    AUDIT_ACTOR_KINDS.map((kind) => [kind.toUpperCase().replace('-', '_'), { value: kind }]),
  ) as Record<string, { value: (typeof AUDIT_ACTOR_KINDS)[number] }>,
  description:
    'ADMIN_SECRET: the x-admin-secret header (or adminSignIn exchanging it). ADMIN_SESSION: an admin session token (actorId: the session id). USER: a user session or API token (actorId: the user id). ANONYMOUS: no valid credential.',
});

export const AuditEntryType = builder.objectRef<AuditRow>('AuditEntry').implement({
  description:
    'One admin mutation or security event, as recorded (append-only). Credential-like input fields are "[redacted]".',
  fields: (t) => ({
    id: t.exposeID('id'),
    at: t.expose('createdAt', { type: 'DateTime' }),
    actorKind: t.field({ type: AuditActorKindEnum, resolve: (r) => r.actorKind }),
    actorId: t.exposeString('actorId', { nullable: true }),
    actorUser: t.field({
      type: UserType,
      nullable: true,
      description: 'The user who acted (actorKind USER), while still there.',
      resolve: (r, _args, ctx) =>
        r.actorKind === 'user' && r.actorId ? ctx.loaders.user.load(r.actorId) : null,
    }),
    role: t.exposeString('role', { nullable: true, description: '"admin" for an admin credential.' }),
    action: t.exposeString('action', {
      description: 'The mutation, or a security event such as `auth.sign_in_failed`.',
    }),
    targetType: t.exposeString('targetType', {
      nullable: true,
      description: 'user, allocation, payment, session.',
    }),
    targetId: t.exposeString('targetId', { nullable: true }),
    targetUser: t.field({
      type: UserType,
      nullable: true,
      description: 'The target when it is a user (targetType user), while still there.',
      resolve: (r, _args, ctx) =>
        r.targetType === 'user' && r.targetId ? ctx.loaders.user.load(r.targetId) : null,
    }),
    input: t.field({
      type: 'JSON',
      description: 'The arguments, redacted (secret, password, token, key, authorization fields) and cut.',
      resolve: (r) => r.input,
    }),
    outcome: t.exposeString('outcome', { description: '`ok`, or the error code the caller got.' }),
    requestId: t.exposeString('requestId', { nullable: true }),
    clientIp: t.exposeString('clientIp', { nullable: true }),
  }),
});

builder.queryField('auditLog', (t) =>
  t.connection({
    type: AuditEntryType,
    description:
      'Admin: the audit log, newest first: every admin mutation and security event (failed sign-ins, adminSignIn, password resets and changes). `first` (or `last` with `before`, paging back) at most 200 (default 50); `since` inclusive, `until` exclusive.',
    authScopes: { adminRead: true },
    args: {
      action: t.arg.string({ required: false }),
      actorKind: t.arg({ type: AuditActorKindEnum, required: false }),
      targetId: t.arg.string({ required: false }),
      targetType: t.arg.string({
        required: false,
        description:
          'Only entries whose target is of this kind (`user`, `payment`, `allocation`, `operator`, …).',
      }),
      since: t.arg({ type: 'DateTime', required: false }),
      until: t.arg({ type: 'DateTime', required: false }),
    },
    resolve: async (_root, args, ctx) => {
      if (args.last != null || args.before != null)
        throw new ValidationError(
          [{ path: 'last', message: 'Page forwards with first and after' }],
          'Invalid input',
        );
      const first = Math.min(args.first ?? 50, 200);
      const { rows, hasNextPage, hasPreviousPage } = await listAuditLog(
        ctx.em,
        {
          action: args.action ?? null,
          actorKind: args.actorKind ?? null,
          targetId: args.targetId ?? null,
          targetType: args.targetType ?? null,
          since: args.since ?? null,
          until: args.until ?? null,
        },
        { first: Math.max(first, 1), afterId: args.after ?? null, beforeId: args.before ?? null },
      );
      return {
        edges: rows.map((node) => ({ cursor: node.id, node })),
        pageInfo: {
          hasNextPage,
          hasPreviousPage,
          startCursor: rows[0]?.id ?? null,
          endCursor: rows.at(-1)?.id ?? null,
        },
      };
    },
  }),
);
