/**
 * The password rules, as data: the API's validation messages and the web's sign-up form both
 * state them from here (no dependencies, so the web can import this file as it is).
 */
export const PASSWORD_RULES = {
  minLength: 12,
  maxLength: 256,
  /** The password must not be the account's email (compared case-insensitively). */
  mustDifferFromEmail: true,
} as const;

export const PASSWORD_RULES_TEXT = `${PASSWORD_RULES.minLength} to ${PASSWORD_RULES.maxLength} characters, and not your email address`;

/** What is wrong with a password for this email (empty when it is acceptable). */
export function passwordProblems(password: string, email: string): string[] {
  const problems: string[] = [];
  // Characters as a person counts them (code points), not UTF-16 units.
  const length = [...password].length;
  if (length < PASSWORD_RULES.minLength)
    problems.push(`must be at least ${PASSWORD_RULES.minLength} characters`);
  if (length > PASSWORD_RULES.maxLength)
    problems.push(`must be at most ${PASSWORD_RULES.maxLength} characters`);
  if (email.trim() !== '' && password.trim().toLowerCase() === email.trim().toLowerCase())
    problems.push('must not be your email address');
  return problems;
}
