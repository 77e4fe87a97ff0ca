import type { Cookies } from '@sveltejs/kit';

/** The user's session token (opaque; the API holds the session). */
export const USER_COOKIE = 'hero_session';
/** The admin session token, opened with the admin secret on /admin/login. */
export const ADMIN_COOKIE = 'hero_admin';

/** httpOnly, SameSite=Lax, Secure when the UI is served over https, until the session's end. */
export function setSessionCookie(
  cookies: Cookies,
  url: URL,
  name: string,
  token: string,
  expiresAt: string | Date,
): void {
  cookies.set(name, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: url.protocol === 'https:',
    expires: new Date(expiresAt),
  });
}

export function clearSessionCookie(cookies: Cookies, url: URL, name: string): void {
  cookies.delete(name, { path: '/', httpOnly: true, sameSite: 'lax', secure: url.protocol === 'https:' });
}
