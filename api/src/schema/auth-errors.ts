import { type AuthFailure, AuthScopeFailureType } from '@pothos/plugin-scope-auth';
import { ForbiddenError, UnauthenticatedError } from '../errors.ts';
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

/**
 * Missing credentials: UNAUTHENTICATED (401). A wrong admin secret: FORBIDDEN (403). An unknown
 * bearer token: UNAUTHENTICATED (401), as a token that is not ours proves nothing.
 */
export function authFailureError(ctx: Context, failure: AuthFailure): Error {
  const scopes = scopesOf(failure);
  if (scopes.includes('admin')) {
    if (ctx.admin === 'invalid') return new ForbiddenError('The admin secret is wrong');
    return new UnauthenticatedError('Admin operation: send the admin secret in the x-admin-secret header');
  }
  if (ctx.userCredential === 'invalid')
    return new UnauthenticatedError('The bearer token is invalid or revoked');
  return new UnauthenticatedError('Sign in: send "Authorization: Bearer <token>"');
}
