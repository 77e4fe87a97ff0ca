import { clockFor, TZ_COOKIE } from '#lib/clock.ts';
import type { LayoutServerLoad } from './$types';

/**
 * Every page's clock (language, time zone, now): dates render to the same text on the server
 * and after hydration. Read per navigation (the url is used), so "now" is the page's.
 */
export const load: LayoutServerLoad = ({ request, cookies, url }) => {
  void url.pathname;
  return { clock: clockFor(request.headers.get('accept-language'), cookies.get(TZ_COOKIE), new Date()) };
};
