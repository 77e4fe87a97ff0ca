/**
 * Shapes shared by the admin routes (server) and their components (browser) that are not GraphQL
 * results: what an action answers a form. (The table rows are typed by their GraphQL fragments, in
 * #lib/server/admin-fragments.ts, and so is a problem.)
 */
import type { ResultOf } from '@hero/graphql';
import type { ErrorFields } from '#lib/server/admin-fragments.ts';

/**
 * One problem with an input, as the API's ValidationError lists it (the page's own checks answer
 * the same); `path` says where (e.g. `pool[2].cockpitUrl`).
 */
export type Problem = Extract<ResultOf<typeof ErrorFields>, { problems: unknown }>['problems'][number];

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
