/**
 * What the sign-in and sign-up pages share: the password rules as people read them, and the
 * turning of the API's answers (validation problems, rate limits) into words next to each field.
 * No server-only imports: the pages' components may read the rules too.
 */

/** The API's password rules (core/src/auth/password-rules.ts), as the sign-up form states them. */
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;
export const PASSWORD_RULES_TEXT = `${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters, and not the same as your email.`;

/** Field name → the problems with it, in words. */
export type FieldErrors<F extends string> = Partial<Record<F, string[]>>;

/** "Too many attempts. Try again in 15 minutes." */
export function rateLimitMessage(retryAfterSeconds: number | undefined): string {
  const minutes = Math.max(1, Math.ceil((retryAfterSeconds ?? 60) / 60));
  return `Too many attempts. Try again in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.`;
}

/** "must be a valid email address" → "Must be a valid email address." */
export function sentence(message: string): string {
  const text = message.trim();
  if (!text) return text;
  const capital = text[0].toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/**
 * Sorts a ValidationError's problems onto the form's fields (`problems[].path` is the field
 * name, possibly under `input.`); problems with other paths are returned as `other`.
 */
export function problemsByField<F extends string>(
  problems: readonly { path: string; message: string }[],
  fields: readonly F[],
): { fields: FieldErrors<F>; other: string[] } {
  const byField: FieldErrors<F> = {};
  const other: string[] = [];
  for (const problem of problems) {
    const name = problem.path.split('.').pop() as F;
    if (fields.includes(name)) byField[name] = [...(byField[name] ?? []), sentence(problem.message)];
    else other.push(problem.path ? `${problem.path}: ${problem.message}` : sentence(problem.message));
  }
  return { fields: byField, other };
}
