import {
  type ApiTokenRow,
  createApiToken,
  LAST_USED_RESOLUTION_SECONDS,
  listApiTokens,
  revokeApiToken,
} from '@hero/core/auth/api-tokens';
import { AccountDeletedError, NotFoundError, ValidationError } from '@hero/core/errors';
import { builder } from '../builder.ts';
import { UserType } from './user.ts';

const ApiTokenType = builder.objectRef<ApiTokenRow>('ApiToken').implement({
  description:
    'A named API token of the viewer (`Authorization: Bearer hero_…`). The token itself is shown only when it is created; only its hash is stored.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      nullable: true,
      description: 'From then on the token is refused; null: until revoked.',
    }),
    lastUsedAt: t.expose('lastUsedAt', {
      type: 'DateTime',
      nullable: true,
      description: `When a request last came with the token (to within ${LAST_USED_RESOLUTION_SECONDS} seconds); null: never used.`,
    }),
  }),
});

const CreateApiTokenSuccess = builder
  .objectRef<{ token: string; apiToken: ApiTokenRow }>('CreateApiTokenSuccess')
  .implement({
    fields: (t) => ({
      token: t.exposeString('token', {
        description: 'The bearer token: shown this once, store it now (it cannot be read back).',
      }),
      apiToken: t.field({ type: ApiTokenType, resolve: (r) => r.apiToken }),
    }),
  });

builder.queryField('apiTokens', (t) =>
  t.field({
    type: [ApiTokenType],
    description: "User: the viewer's API tokens that are not revoked (expired ones included), newest first.",
    authScopes: { user: true },
    resolve: (_root, _args, ctx) => listApiTokens(ctx.em, ctx.user!.id),
  }),
);

builder.mutationField('createApiToken', (t) =>
  t.field({
    type: CreateApiTokenSuccess,
    description:
      'User: create a named API token for automation, answered once. `name`: 1–100 characters (trimmed); `expiresAt`: in the future, or null for a token that works until revoked.',
    authScopes: { user: true },
    args: {
      name: t.arg.string(),
      expiresAt: t.arg({ type: 'DateTime', required: false }),
    },
    errors: { types: [ValidationError], union: { name: 'CreateApiTokenResult' }, directResult: true },
    resolve: async (_root, args, ctx) => {
      const { token, row } = await createApiToken(ctx.em, {
        userId: ctx.user!.id,
        name: args.name,
        expiresAt: args.expiresAt ?? null,
      });
      return { token, apiToken: row };
    },
  }),
);

builder.mutationField('revokeApiToken', (t) =>
  t.field({
    type: ApiTokenType,
    description:
      "User: revoke one of the viewer's API tokens; it is refused (401 UNAUTHENTICATED) from the next request on. Another user's token, an unknown or a revoked one: NOT_FOUND.",
    authScopes: { user: true },
    args: { id: t.arg.id() },
    errors: {
      types: [NotFoundError],
      union: { name: 'RevokeApiTokenResult' },
      result: { name: 'RevokeApiTokenSuccess' },
      dataField: { name: 'apiToken' },
    },
    resolve: (_root, args, ctx) => revokeApiToken(ctx.em, { userId: ctx.user!.id, tokenId: String(args.id) }),
  }),
);

builder.objectField(UserType, 'apiTokens', (t) =>
  t.field({
    type: [ApiTokenType],
    description:
      "The user's API tokens that are not revoked, newest first (one query per user: ask for it on one user).",
    resolve: (user, _args, ctx) => listApiTokens(ctx.em, user.id),
  }),
);

builder.mutationField('createUserApiToken', (t) =>
  t.field({
    type: CreateApiTokenSuccess,
    description:
      'Admin: create a named API token for a user (as `createApiToken` does for the viewer), answered once. Unknown user: NOT_FOUND.',
    authScopes: { operate: true },
    args: {
      userId: t.arg.id(),
      name: t.arg.string(),
      expiresAt: t.arg({ type: 'DateTime', required: false }),
    },
    errors: {
      types: [ValidationError, NotFoundError, AccountDeletedError],
      union: { name: 'CreateUserApiTokenResult' },
      directResult: true,
    },
    resolve: async (_root, args, ctx) => {
      const { token, row } = await createApiToken(ctx.em, {
        userId: String(args.userId),
        name: args.name,
        expiresAt: args.expiresAt ?? null,
        createdBy: 'OPERATOR',
      });
      return { token, apiToken: row };
    },
  }),
);

builder.mutationField('revokeUserApiToken', (t) =>
  t.field({
    type: ApiTokenType,
    description:
      "Admin: revoke one of a user's API tokens (e.g. a leaked one). A token of another user, an unknown or a revoked one: NOT_FOUND.",
    authScopes: { operate: true },
    args: { userId: t.arg.id(), id: t.arg.id() },
    errors: {
      types: [NotFoundError],
      union: { name: 'RevokeUserApiTokenResult' },
      result: { name: 'RevokeUserApiTokenSuccess' },
      dataField: { name: 'apiToken' },
    },
    resolve: (_root, args, ctx) =>
      revokeApiToken(ctx.em, { userId: String(args.userId), tokenId: String(args.id) }),
  }),
);
