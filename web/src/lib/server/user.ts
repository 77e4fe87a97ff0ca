import { type RequestEvent, redirect } from '@sveltejs/kit';
import { ApiError, describeApiError } from './api.ts';
import { clearSessionCookie, USER_COOKIE } from './session.ts';

/**
 * An API error met on a user page: a session that ended while the page was open goes back to
 * sign in (thrown redirect); anything else is answered in words with its HTTP status.
 */
export function describeUserFailure(
  event: Pick<RequestEvent, 'cookies' | 'url'>,
  err: unknown,
): { status: 500 | 503; code: string; message: string } {
  if (err instanceof ApiError && err.code === 'UNAUTHENTICATED') {
    clearSessionCookie(event.cookies, event.url, USER_COOKIE);
    redirect(303, '/signin');
  }
  const { code, message } = describeApiError(err);
  const unavailable = code === 'SERVICE_UNAVAILABLE' || code === 'PROVISIONER_UNAVAILABLE';
  return { status: unavailable ? 503 : 500, code, message };
}
