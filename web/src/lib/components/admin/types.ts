/**
 * Shapes shared by the admin routes (server) and their components (browser) that are not GraphQL
 * results: what an action answers a form. (The table rows are typed by their GraphQL fragments, in
 * #lib/server/admin-fragments.ts.)
 */

/** One problem with an input; `path` says where (e.g. `pool[2].cockpitUrl`). */
export interface Problem {
  path: string;
  message: string;
}

/** An action that did not do what was asked: the words for people, and every problem. */
export interface Failed {
  ok: false;
  code: string;
  message: string;
  problems: Problem[];
}

/** An action that did what was asked, with what it has to show. */
export type Done<T extends object = object> = { ok: true; message: string } & T;

/** What a result box shows: success (role="status") or failure (role="alert"). */
export type Outcome = { ok: true; message: string } | Failed;

/** Returned when a form is sent back to be corrected: what was typed (never secrets). */
export type FailedWith<V extends Record<string, string>> = Failed & { values: V };
