import { ForbiddenError, RoleForbiddenError, UnauthenticatedError } from '@hero/core/errors';
import { type AuthFailure, AuthScopeFailureType } from '@pothos/plugin-scope-auth';
import type { Context } from '../http/context.ts';

function scopesOf(failure: AuthFailure): string[] {
  switch (failure.kind) {
    case AuthScopeFailureType.AuthScope:
      return [failure.scope];
    case AuthScopeFailureType.AnyAuthScopes:
    case AuthScopeFailureType.AllAuthScopes:
      return failure.failures.flatMap(scopesOf);
    default:
      return [];
  }
}

const ADMIN_SCOPES = new Set(['adminRead', 'operate', 'billing', 'owner']);

/**
 * A valid admin credential whose role lacks the right: FORBIDDEN (403), naming the role.
 * Missing credentials: UNAUTHENTICATED (401). A wrong admin secret, or an admin session that is
 * expired, revoked or was opened with another admin secret: FORBIDDEN (403). An unknown bearer
 * token: UNAUTHENTICATED (401), as a token that is not ours proves nothing.
 */
export function authFailureError(ctx: Context, failure: AuthFailure): Error {
  const scopes = scopesOf(failure);
  const adminScopes = scopes.filter((s) => ADMIN_SCOPES.has(s));
  if (adminScopes.length > 0) {
    if (ctx.admin === 'valid') {
      const needs = adminScopes.filter((s) => s !== 'adminRead');
      return new RoleForbiddenError(ctx.adminRole ?? 'none', needs.length > 0 ? needs : ['an operator role']);
    }
    if (ctx.admin === 'invalid')
      return new ForbiddenError(
        ctx.adminVia === 'session'
          ? 'The admin session is expired or revoked, or the admin secret has changed: sign in again'
          : 'The admin secret is wrong',
      );
    return new UnauthenticatedError(
      'Admin operation: send the admin secret in the x-admin-secret header, or an admin session token as "Authorization: Bearer <token>"',
    );
  }
  if (scopes.includes('session')) {
    if (ctx.userCredential === 'invalid' || ctx.admin === 'invalid')
      return new UnauthenticatedError('The session token is invalid, expired or revoked');
    return new UnauthenticatedError('Send the session token as "Authorization: Bearer <token>"');
  }
  if (ctx.userCredential === 'invalid')
    return new UnauthenticatedError('The bearer token is invalid or revoked, or its session has expired');
  return new UnauthenticatedError('Sign in: send "Authorization: Bearer <token>"');
}
