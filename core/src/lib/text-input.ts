import type { Problem } from '../errors.ts';

/**
 * What PostgreSQL can store of a client's text, checked before anything uses it: no NUL
 * (U+0000: a `text` value cannot hold it, the driver fails with an error), no unpaired UTF-16
 * surrogate (not encodable as UTF-8: the driver would store U+FFFD instead), and a length bound.
 */

/** The longest string accepted in an input, in UTF-16 code units, unless a field says otherwise. */
export const MAX_INPUT_STRING_LENGTH = 10_000;

/** JSON values nested deeper than this are refused (no input of the schema needs more than a few levels). */
export const MAX_INPUT_DEPTH = 32;

/** At most this many problems are listed (the rest are not looked for). */
const MAX_PROBLEMS = 20;

/** The problem with one string, or null. */
export function textProblem(value: string, maxLength = MAX_INPUT_STRING_LENGTH): string | null {
  if (value.length > maxLength)
    return `is ${value.length} characters long, more than the limit of ${maxLength}`;
  if (value.includes('\u0000')) return 'contains a NUL character (U+0000), which cannot be stored';
  if (!value.isWellFormed()) return 'contains an unpaired UTF-16 surrogate (not valid Unicode text)';
  return null;
}

const isPlainObject = (value: object): value is Record<string, unknown> => {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

const join = (path: string, key: string): string => (path === '' ? key : `${path}.${key}`);

/**
 * Every string in `value` (arguments, input objects, lists and JSON values, object keys
 * included) checked with textProblem; `path` names where (`input.email`, `input.manifest[2].id`).
 * `maxLengthAt` may allow a longer string at a given path. Iterative, so deep nesting cannot
 * exhaust the stack.
 */
export function textInputProblems(
  value: unknown,
  path = '',
  maxLengthAt: (path: string) => number = () => MAX_INPUT_STRING_LENGTH,
): Problem[] {
  const problems: Problem[] = [];
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path, depth: 0 }];
  while (stack.length > 0 && problems.length < MAX_PROBLEMS) {
    const item = stack.pop()!;
    const current = item.value;
    if (typeof current === 'string') {
      const message = textProblem(current, maxLengthAt(item.path));
      if (message) problems.push({ path: item.path, message });
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    const isList = Array.isArray(current);
    if (!isList && !isPlainObject(current)) continue; // a Date (DateTime) or another parsed scalar
    if (item.depth >= MAX_INPUT_DEPTH) {
      problems.push({ path: item.path, message: `is nested more than ${MAX_INPUT_DEPTH} levels deep` });
      continue;
    }
    const children: { value: unknown; path: string; depth: number }[] = [];
    if (isList) {
      current.forEach((child, i) => {
        children.push({ value: child, path: `${item.path}[${i}]`, depth: item.depth + 1 });
      });
    } else {
      for (const [key, child] of Object.entries(current)) {
        const keyProblem = textProblem(key);
        // The key is not repeated in the path: it may be what cannot be shown.
        if (keyProblem) problems.push({ path: item.path, message: `a field name ${keyProblem}` });
        else children.push({ value: child, path: join(item.path, key), depth: item.depth + 1 });
      }
    }
    // Reversed, so that problems come out in input order.
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
  return problems.slice(0, MAX_PROBLEMS);
}
