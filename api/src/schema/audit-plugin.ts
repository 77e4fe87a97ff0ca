import { type AuditActorKind, type AuditEntry, recordAudit } from '@hero/core/audit/audit-log';
import { ADMIN_RIGHTS, type AdminRight } from '@hero/core/operators/roles';
import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from '@pothos/core';
import type { GraphQLFieldResolver } from 'graphql';
import type { Context } from '../http/context.ts';

/**
 * Security events that are not admin mutations: the public and user mutations the audit log
 * records, and how. `failed`: the action a failure is recorded as; `success`: whether a success
 * is recorded too (as the mutation's name).
 */
export const AUDITED_SECURITY_MUTATIONS: Record<string, { failed: string; success: boolean }> = {
  signIn: { failed: 'auth.sign_in_failed', success: false },
  adminSignIn: { failed: 'auth.sign_in_failed', success: true },
  operatorSignIn: { failed: 'auth.sign_in_failed', success: true },
  operatorSignInWithOidc: { failed: 'auth.sign_in_failed', success: true },
  requestPasswordReset: { failed: 'requestPasswordReset', success: true },
  resetPassword: { failed: 'resetPassword', success: true },
  changePassword: { failed: 'changePassword', success: true },
  requestEmailChange: { failed: 'requestEmailChange', success: true },
  verifyEmail: { failed: 'verifyEmail', success: true },
  createApiToken: { failed: 'createApiToken', success: true },
  revokeApiToken: { failed: 'revokeApiToken', success: true },
};

/** What an argument named like this points at (the audit row's target). */
const TARGET_ARGS: Record<string, string> = {
  userId: 'user',
  paymentId: 'payment',
  allocationId: 'allocation',
  operatorId: 'operator',
};
/** Outcomes that say the database is out of reach. */
const DATABASE_DOWN = new Set(['DATABASE_BUSY', 'DATABASE_UNAVAILABLE']);
/** What the `id` argument of these mutations names. */
const ID_TARGETS: Record<string, string> = {
  extendAllocation: 'allocation',
  releaseAllocation: 'allocation',
  setOperatorRole: 'operator',
  removeOperator: 'operator',
  revokeApiToken: 'api_token',
};

/**
 * The admin rights (operators/roles.ts) a field's `authScopes` asks for, any of which admits a
 * caller; empty for a field that is not an admin field.
 */
export function adminRightsOf(fieldConfig: { pothosOptions: object }): AdminRight[] {
  const scopes = (fieldConfig.pothosOptions as { authScopes?: unknown }).authScopes;
  if (typeof scopes !== 'object' || scopes === null) return [];
  return ADMIN_RIGHTS.filter((right) => (scopes as Record<string, unknown>)[right] === true);
}

/** The admin-scoped mutation fields (any admin right) are audited. */
export function isAdminScoped(fieldConfig: { pothosOptions: object }): boolean {
  return adminRightsOf(fieldConfig).length > 0;
}

/** The admin secret, and sessions opened with it, act as break-glass owner. */
const BREAK_GLASS_ROLE = 'owner';

export function actorOf(ctx: Context): Pick<AuditEntry, 'actorKind' | 'actorId' | 'role'> {
  if (ctx.admin === 'valid') {
    if (ctx.operator) return { actorKind: 'operator', actorId: ctx.operator.id, role: ctx.operator.role };
    return ctx.adminVia === 'session'
      ? { actorKind: 'admin-session', actorId: ctx.sessionId, role: BREAK_GLASS_ROLE }
      : { actorKind: 'admin-secret', actorId: null, role: BREAK_GLASS_ROLE };
  }
  if (ctx.user) return { actorKind: 'user', actorId: ctx.user.id, role: null };
  return { actorKind: 'anonymous' satisfies AuditActorKind, actorId: null, role: null };
}

function codeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const extCode = (error as { extensions?: { code?: unknown } }).extensions?.code;
    if (typeof extCode === 'string') return extCode;
  }
  return 'INTERNAL_SERVER_ERROR';
}

/** A result union's error member (the errors plugin answers a proxy of the error, not the Error itself). */
function isErrorResult(result: unknown): boolean {
  if (result instanceof Error) return true;
  if (typeof result !== 'object' || result === null) return false;
  const { code, message } = result as { code?: unknown; message?: unknown };
  return typeof code === 'string' && typeof message === 'string';
}

function targetOf(field: string, args: Record<string, unknown>, result: unknown) {
  if (typeof args.id === 'string' && ID_TARGETS[field])
    return { targetType: ID_TARGETS[field], targetId: args.id };
  for (const source of [args, args.input]) {
    if (typeof source !== 'object' || source === null) continue;
    for (const [name, type] of Object.entries(TARGET_ARGS)) {
      const value = (source as Record<string, unknown>)[name];
      if (typeof value === 'string') return { targetType: type, targetId: value };
    }
  }
  // createUser: the user it made; createOperator: the operator.
  const made = (result as { user?: { id?: unknown } } | null)?.user?.id;
  if (typeof made === 'string') return { targetType: 'user', targetId: made };
  const operator = (result as { id?: unknown } | null)?.id;
  if (field === 'createOperator' && typeof operator === 'string')
    return { targetType: 'operator', targetId: operator };
  const token = (result as { apiToken?: { id?: unknown } } | null)?.apiToken?.id;
  if (typeof token === 'string') return { targetType: 'api_token', targetId: token };
  return { targetType: null, targetId: null };
}

/**
 * Writes exactly one audit_log row per call of an admin-scoped mutation, and per audited
 * security event, after the field resolved: the actor, the redacted arguments, the outcome
 * ('ok', the result union's error code, or the thrown error's code, auth refusals included),
 * request id and client address. It wraps outermost (first plugin), so it sees what scope-auth
 * and the errors plugin made of the call. The row is written outside the mutation's
 * transaction (the mutation has committed or rolled back by then); a failed write is logged
 * and does not change the answer.
 */
export class AuditPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    if (fieldConfig.parentType !== 'Mutation') return resolver;
    const field = fieldConfig.name;
    const security = AUDITED_SECURITY_MUTATIONS[field];
    if (!security && !isAdminScoped(fieldConfig)) return resolver;
    return async (parent, args, context, info) => {
      const ctx = context as unknown as Context;
      let outcome = 'ok';
      let result: unknown;
      try {
        result = await resolver(parent, args, context, info);
        if (isErrorResult(result)) outcome = codeOf(result);
        return result;
      } catch (error) {
        outcome = codeOf(error);
        throw error;
      } finally {
        let action: string | null = field;
        let actor = actorOf(ctx);
        if (security) {
          if (outcome !== 'ok') action = security.failed;
          else if (!security.success) action = null;
          // A successful adminSignIn is a use of the admin secret.
          if (field === 'adminSignIn' && outcome === 'ok')
            actor = { actorKind: 'admin-secret', actorId: null, role: BREAK_GLASS_ROLE };
          // A successful operatorSignIn: the operator, by id and role.
          const signedIn = (result as { operator?: { id: string; role: string } } | null)?.operator;
          if (field.startsWith('operatorSignIn') && outcome === 'ok' && signedIn)
            actor = { actorKind: 'operator', actorId: signedIn.id, role: signedIn.role };
        }
        if (action) {
          const sessionId =
            field === 'adminSignIn'
              ? (result as { id?: string } | null)?.id
              : (result as { session?: { id?: string } } | null)?.session?.id;
          const target =
            (field === 'adminSignIn' || field.startsWith('operatorSignIn')) && outcome === 'ok'
              ? { targetType: 'session', targetId: sessionId ?? null }
              : targetOf(field, args as Record<string, unknown>, outcome === 'ok' ? result : null);
          const written = recordAudit(ctx.em.fork(), {
            ...actor,
            action,
            ...target,
            input: args,
            outcome,
            requestId: ctx.requestId,
            clientIp: ctx.clientIp,
          }).catch((error: unknown) => ctx.log.error({ err: error, action }, 'audit log write failed'));
          // With the database out of reach the write would only wait for it too: answer first.
          if (!DATABASE_DOWN.has(outcome)) await written;
        }
      }
    };
  }
}

export const auditPluginName = 'audit';

SchemaBuilder.registerPlugin(auditPluginName, AuditPlugin);

declare global {
  export namespace PothosSchemaTypes {
    interface Plugins<Types extends SchemaTypes> {
      audit: AuditPlugin<Types>;
    }
  }
}
