/**
 * The viewer's clock for a render: language, time zone and "now". The server picks them (the
 * Accept-Language header, the time-zone cookie the browser sets) and sends them with the page,
 * so the browser's hydration formats every date to the same text as the server did.
 */
export interface Clock {
  /** A BCP 47 language tag Intl accepts, e.g. `en-US`. */
  locale: string;
  /** An IANA time zone, e.g. `Europe/Brussels`; `UTC` until the browser has said its own. */
  timeZone: string;
  /** ISO date-time of the render: relative dates ("in 3 days") count from it. */
  now: string;
}

/** Set by the browser (root layout) to its IANA time zone; read by the server on render. */
export const TZ_COOKIE = 'hero_tz';

export const DEFAULT_LOCALE = 'en';

/** The first language of an Accept-Language header that Intl formats dates in; else `en`. */
export function localeFrom(acceptLanguage: string | null | undefined): string {
  if (!acceptLanguage) return DEFAULT_LOCALE;
  const tags = acceptLanguage
    .split(',')
    .map((part) => {
      const [tag, ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { tag: tag.trim(), q: q ? Number(q.slice(2)) : 1 };
    })
    .filter((t) => t.tag && t.tag !== '*' && t.tag.length <= 35 && Number.isFinite(t.q) && t.q > 0)
    .sort((a, b) => b.q - a.q);
  for (const { tag } of tags) {
    try {
      const [supported] = Intl.DateTimeFormat.supportedLocalesOf([tag]);
      if (supported) return supported;
    } catch {
      // not a well-formed language tag: try the next
    }
  }
  return DEFAULT_LOCALE;
}

/** The cookie's time zone when Intl knows it; else UTC. */
export function timeZoneFrom(cookie: string | null | undefined): string {
  if (!cookie || cookie.length > 64) return 'UTC';
  try {
    return new Intl.DateTimeFormat('en', { timeZone: cookie }).resolvedOptions().timeZone;
  } catch {
    return 'UTC';
  }
}

export function clockFor(
  acceptLanguage: string | null | undefined,
  tzCookie: string | null | undefined,
  now: Date,
): Clock {
  return { locale: localeFrom(acceptLanguage), timeZone: timeZoneFrom(tzCookie), now: now.toISOString() };
}
