import type { Plugin } from 'graphql-yoga';

/**
 * CORS for POST/GET /graphql (API_CORS_ORIGINS). The web UI calls the api from its server, so
 * by default there is none: no Access-Control-* header at all. A configured origin gets exactly
 * itself back; any other origin gets nothing (never a reflected origin, never `null`). No
 * credentials: the api authenticates by headers (bearer token), not cookies. x-admin-secret is
 * not an allowed header: a browser holds an admin session token (adminSignIn), never the secret.
 */

export const CORS_ALLOWED_HEADERS = ['content-type', 'authorization', 'x-request-id'];
export const CORS_EXPOSED_HEADERS = ['x-request-id', 'retry-after'];
/** How long a browser may keep a preflight's answer (seconds). */
export const CORS_MAX_AGE_SECONDS = 600;

/**
 * One API_CORS_ORIGINS entry in the form browsers send in `Origin` (scheme, host, port unless
 * the default; lower-cased), or null when it is not an http(s) origin (a path, `*`, `null`…).
 */
export function normalizeOrigin(entry: string): string | null {
  const text = entry.trim().replace(/\/$/, '');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  // Only scheme://host[:port]: anything more would never match an Origin header.
  if (url.pathname !== '/' || url.username || url.password || /[?#]/.test(text)) return null;
  return url.origin;
}

/** What yoga's `cors` option takes (its CORSOptions), as far as used here. */
interface CorsHeaders {
  origin: string[];
  methods: string[];
  allowedHeaders: string[];
  exposedHeaders: string[];
  credentials: boolean;
  maxAge: number;
}
type CorsOption = false | ((request: Request) => false | CorsHeaders);

/** The yoga `cors` option for these (normalized) origins: false when there are none. */
export function corsOption(origins: readonly string[]): CorsOption {
  if (origins.length === 0) return false;
  const allowed = new Set(origins);
  return (request) => {
    const origin = request.headers.get('origin');
    if (origin === null || !allowed.has(origin)) return false;
    return {
      origin: [origin],
      methods: ['GET', 'POST'],
      allowedHeaders: CORS_ALLOWED_HEADERS,
      exposedHeaders: CORS_EXPOSED_HEADERS,
      credentials: false,
      maxAge: CORS_MAX_AGE_SECONDS,
    };
  };
}

/** Answers differ by Origin when CORS is on: caches must key them by it. */
export function corsVaryPlugin(origins: readonly string[]): Plugin {
  if (origins.length === 0) return {};
  return {
    onResponse({ response }) {
      const vary = response.headers.get('vary');
      if (
        !vary
          ?.toLowerCase()
          .split(/\s*,\s*/)
          .includes('origin')
      )
        response.headers.set('vary', vary ? `${vary}, Origin` : 'Origin');
    },
  };
}
