/**
 * The admin side's one door to the API: every admin load and action calls through here, so a
 * missing, expired, revoked or outdated admin session (rotated ADMIN_SECRET) always ends the
 * same way: the hero_admin cookie is cleared and the browser goes to /admin/login, back to where
 * it was once signed in. A user's own session never counts: only the hero_admin cookie is sent.
 */

import {
  type FragmentOf,
  type Operation,
  type ResultOf,
  readFragment,
  sourceOf,
  type VariablesArg,
} from '@hero/graphql';
import { isRedirect, type RequestEvent, redirect } from '@sveltejs/kit';
import type { Failed, Problem } from '#lib/components/admin/types.ts';
import { cursorParams } from '#lib/components/common/pagination.ts';
import { type ErrorFields, type PageInfo, PageInfoFields } from './admin-fragments.ts';
import { ApiError, describeApiError, send } from './api.ts';
import { ADMIN_COOKIE, clearSessionCookie } from './session.ts';

export type AdminEvent = Pick<RequestEvent, 'locals' | 'getClientAddress' | 'cookies' | 'url'>;

/** The page the request belongs to, without a form action's `?/name` parameter. */
function herePath(url: URL): string {
  const params = new URLSearchParams(url.search);
  for (const key of [...params.keys()]) if (key.startsWith('/')) params.delete(key);
  const search = params.toString();
  return url.pathname + (search ? `?${search}` : '');
}

/** `/admin/login?redirectTo=<here>` (and `ended=1` when a session was refused). */
export function loginPath(url: URL, ended = false): string {
  const params = new URLSearchParams({ redirectTo: herePath(url) });
  if (ended) params.set('ended', '1');
  return `/admin/login?${params}`;
}

/**
 * Where to go after signing in: a same-site path under /admin (never the login or logout page),
 * else /admin. Anything else (another origin, `//host`, backslashes, `/administrator`) is ignored.
 */
export function safeAdminPath(value: string | null | undefined): string {
  if (!value?.startsWith('/admin') || value.startsWith('//') || value.includes('\\')) return '/admin';
  let target: URL;
  try {
    target = new URL(value, 'http://admin.invalid');
  } catch {
    return '/admin';
  }
  if (target.origin !== 'http://admin.invalid') return '/admin';
  if (!/^\/admin(\/|$)/.test(target.pathname)) return '/admin';
  if (/^\/admin\/(login|logout)(\/|$)/.test(target.pathname)) return '/admin';
  return target.pathname + target.search;
}

/** No admin session: off to the login page (used by the panel's layout guard too). */
export function requireAdmin(event: AdminEvent): void {
  if (!event.locals.adminToken) redirect(303, loginPath(event.url));
}

/**
 * An admin GraphQL call, typed by the document. UNAUTHENTICATED / FORBIDDEN (expired or revoked
 * session, changed admin secret) clear the cookie and redirect to the login page; other errors
 * are thrown as ApiError.
 */
export function adminGql<Document extends Operation>(
  event: AdminEvent,
  document: Document,
  ...variables: VariablesArg<Document>
): Promise<ResultOf<Document>>;
export function adminGql(event: AdminEvent, document: Operation, variables: unknown = {}): Promise<unknown> {
  return adminSend(event, document, variables);
}

async function adminSend(event: AdminEvent, document: Operation, variables: unknown): Promise<unknown> {
  requireAdmin(event);
  try {
    return await send(event, sourceOf(document), variables, 'admin');
  } catch (err) {
    // A role without the right keeps its session: the page says what was refused.
    if (
      err instanceof ApiError &&
      (err.code === 'UNAUTHENTICATED' || err.code === 'FORBIDDEN') &&
      !err.role
    ) {
      clearSessionCookie(event.cookies, event.url, ADMIN_COOKIE);
      event.locals.adminToken = undefined;
      redirect(303, loginPath(event.url, true));
    }
    throw err;
  }
}

export type Loaded<T> = { data: T; error: null } | { data: null; error: string };

/** For loads: the data, or the error in words for the page's error state (redirects still fly). */
export function adminQuery<Document extends Operation>(
  event: AdminEvent,
  document: Document,
  ...variables: VariablesArg<Document>
): Promise<Loaded<ResultOf<Document>>>;
export async function adminQuery(
  event: AdminEvent,
  document: Operation,
  variables: unknown = {},
): Promise<Loaded<unknown>> {
  try {
    return { data: await adminSend(event, document, variables), error: null };
  } catch (err) {
    if (isRedirect(err)) throw err;
    return { data: null, error: describeApiError(err).message };
  }
}

/** For actions: a thrown error as a Failed outcome (redirects still fly). */
export function failedFrom(err: unknown, words: Record<string, string> = {}): Failed {
  if (isRedirect(err)) throw err;
  const { code, message } = describeApiError(err);
  const special = words[code];
  return { ok: false, code, message: special ?? message, problems: [] };
}

/** A form the page refuses before asking the API (add the typed `values` when it shows them back). */
export function badInput(message: string, problems: Problem[] = []): Failed {
  return { ok: false, code: 'BAD_USER_INPUT', message, problems };
}

/** A result union's error member, read from its ErrorFields (ValidationError: with problems). */
export function failedFromUnion(error: ResultOf<typeof ErrorFields>): Failed {
  return {
    ok: false,
    code: error.code,
    message: error.message,
    problems: 'problems' in error ? error.problems : [],
  };
}

/**
 * Connection arguments from the URL: `after` pages on with `first`, `before` pages back with
 * `last` (a page's second table reads `<prefix>After` / `<prefix>Before`, as its Pagination
 * links write them). The page size is `first` / `last` from the URL when given (1–100), else
 * `size`.
 */
export function connectionArgs(
  url: URL,
  prefix = '',
  size = 25,
): { first?: number; after?: string; last?: number; before?: string } {
  const names = cursorParams(prefix);
  const asked = Number(url.searchParams.get('first') ?? url.searchParams.get('last') ?? Number.NaN);
  const n = Number.isInteger(asked) && asked >= 1 && asked <= 100 ? asked : size;
  const before = url.searchParams.get(names.before);
  if (before) return { last: n, before };
  const after = url.searchParams.get(names.after);
  return after ? { first: n, after } : { first: n };
}

/** A connection's rows (none when it did not load). */
export function nodes<T>(connection: { edges: readonly { node: T }[] } | null | undefined): T[] {
  return connection?.edges.map((e) => e.node) ?? [];
}

/** A connection's pageInfo, selected with `pageInfo { ...PageInfoFields }` (null when it did not load). */
export function pageInfoOf(
  connection: { pageInfo: FragmentOf<typeof PageInfoFields> } | null | undefined,
): PageInfo | null {
  return connection ? readFragment(PageInfoFields, connection.pageInfo) : null;
}

/** A trimmed text field of a form post ('' when absent or a file). */
export function field(form: FormData, name: string): string {
  const value = form.get(name);
  return typeof value === 'string' ? value.trim() : '';
}

/** A query parameter, trimmed; undefined when empty. */
export function param(url: URL, name: string): string | undefined {
  const value = url.searchParams.get(name)?.trim();
  return value ? value : undefined;
}

/** A query parameter that must be one of `values` (else undefined). */
export function enumParam<T extends string>(url: URL, name: string, values: readonly T[]): T | undefined {
  const value = param(url, name)?.toUpperCase();
  return values.find((v) => v === value);
}

/**
 * An amount typed in the currency's main unit ("12.50", "-5", "+0.99") as cents; null when it is
 * not such a number (at most two decimals, a dot as the decimal mark: "12,50" is refused rather
 * than guessed).
 */
export function parseAmountCents(text: string): number | null {
  const clean = text.replace(/\s/g, '');
  const match = /^([+-])?(\d+)(?:\.(\d{1,2}))?$/.exec(clean);
  if (!match) return null;
  const cents = Number(match[2]) * 100 + Number((match[3] ?? '').padEnd(2, '0'));
  if (!Number.isSafeInteger(cents)) return null;
  return match[1] === '-' ? -cents : cents;
}

/** A `<input type="datetime-local">` value read as UTC; null when empty, undefined when invalid. */
export function parseUtcDateTime(text: string): Date | null | undefined {
  if (!text) return null;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text)) return undefined;
  const date = new Date(`${text}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
