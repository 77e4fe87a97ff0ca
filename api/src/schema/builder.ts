import { roleHas } from '@hero/core/operators/roles';
import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import type { Context } from '../http/context.ts';
import { auditPluginName } from './audit-plugin.ts';
import { authFailureError } from './auth-errors.ts';
import { textInputPluginName } from './text-input-plugin.ts';

export const builder = new SchemaBuilder<{
  Context: Context;
  /**
   * Admin rights (operators/roles.ts): adminRead for any operator role, operate, billing,
   * owner; the admin secret acts as owner. session: the bearer token names a live sign-in
   * session (user or admin).
   */
  AuthScopes: {
    adminRead: boolean;
    operate: boolean;
    billing: boolean;
    owner: boolean;
    user: boolean;
    session: boolean;
  };
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
    SafeInt: { Input: number; Output: number };
  };
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: true;
}>({
  // Wrapped in this order: the audit log (sees every outcome), auth, then errors (which catches
  // the text-input check's ValidationError).
  plugins: [auditPluginName, ScopeAuthPlugin, ErrorsPlugin, RelayPlugin, textInputPluginName],
  defaultFieldNullability: false,
  defaultInputFieldRequiredness: true,
  scopeAuth: {
    authScopes: (ctx) => ({
      adminRead: roleHas(ctx.adminRole, 'adminRead'),
      operate: roleHas(ctx.adminRole, 'operate'),
      billing: roleHas(ctx.adminRole, 'billing'),
      owner: roleHas(ctx.adminRole, 'owner'),
      user: ctx.user !== null,
      session: ctx.sessionId !== null,
    }),
    unauthorizedError: (_parent, ctx, _info, result) => authFailureError(ctx, result.failure),
  },
  errors: { defaultTypes: [] },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodeQueryOptions: false,
    nodesQueryOptions: false,
  },
});
