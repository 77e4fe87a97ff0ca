/**
 * Field names whose values never reach the audit log (matched case-insensitively, anywhere in the
 * name): credentials, and deleteUser's `confirmEmail`, the address the deletion erases.
 */
export const REDACTED_FIELD = /secret|password|token|key|authorization|confirmEmail/i;
export const REDACTED = '[redacted]';
/** Longer strings are cut to this many characters and marked. */
export const MAX_SUMMARY_STRING = 200;
const MAX_ARRAY_ITEMS = 20;
const MAX_DEPTH = 5;

/**
 * A summary of a mutation's input fit for the audit log: every field whose name looks like a
 * credential is replaced by "[redacted]", long strings and arrays are cut, deep nesting is
 * elided. Dates become ISO strings; anything else that is not JSON becomes its type name.
 */
export function redactInput(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return auditText(value);
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (depth >= MAX_DEPTH) return '[nested]';
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ARRAY_ITEMS).map((item) => redactInput(item, depth + 1));
    if (value.length > MAX_ARRAY_ITEMS) items.push(`… (${value.length} items)`);
    return items;
  }
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) {
      out[auditText(key)] = REDACTED_FIELD.test(key) ? REDACTED : redactInput(field, depth + 1);
    }
    return out;
  }
  return `[${typeof value}]`;
}

/**
 * Text from a caller as the audit log can keep it: cut to MAX_SUMMARY_STRING characters, and
 * what PostgreSQL cannot store (NUL, a lone surrogate, which hostile input may carry even when
 * the mutation itself refuses it) replaced by U+FFFD, so the row is still written.
 */
export function auditText(value: string): string {
  const cut =
    value.length > MAX_SUMMARY_STRING
      ? `${value.slice(0, MAX_SUMMARY_STRING)}… (${value.length} characters)`
      : value;
  return cut.toWellFormed().replaceAll('\u0000', '\uFFFD');
}
