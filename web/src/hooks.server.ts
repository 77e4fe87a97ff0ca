import { graphql } from '@hero/graphql';
import { error } from '@sveltejs/kit';
import type { Handle } from '@sveltejs/kit/hooks';
import { ApiError, gql, requestIdFrom } from '#lib/server/api.ts';
import { ADMIN_COOKIE, clearSessionCookie, USER_COOKIE } from '#lib/server/session.ts';

const ME = graphql(`
  query WebSessionUser {
    me {
      id
      email
      displayName
      emailVerified
    }
  }
`);

export const handle: Handle = async ({ event, resolve }) => {
  const requestId = requestIdFrom(event.request.headers.get('x-request-id'));
  event.locals.requestId = requestId;
  event.locals.sessionToken = event.cookies.get(USER_COOKIE) || undefined;
  event.locals.adminToken = event.cookies.get(ADMIN_COOKIE) || undefined;
  if (event.locals.sessionToken && !event.url.pathname.startsWith('/admin')) {
    try {
      const { me } = await gql(event, ME);
      event.locals.user = me ?? undefined;
    } catch (err) {
      if (err instanceof ApiError && err.code === 'UNAUTHENTICATED') {
        // Revoked or expired: forget it.
        clearSessionCookie(event.cookies, event.url, USER_COOKIE);
        event.locals.sessionToken = undefined;
      } else {
        const message = err instanceof ApiError ? err.message : 'The service cannot be reached right now.';
        error(503, { message: `Service unavailable: ${message}`, code: 'SERVICE_UNAVAILABLE' });
      }
    }
  }
  const response = await resolve(event);
  response.headers.set('x-request-id', requestId);
  response.headers.set('x-content-type-options', 'nosniff');
  response.headers.set('referrer-policy', 'same-origin');
  response.headers.set('x-frame-options', 'DENY');
  if (event.locals.sessionToken || event.locals.adminToken)
    response.headers.set('cache-control', 'private, no-store');
  return response;
};
