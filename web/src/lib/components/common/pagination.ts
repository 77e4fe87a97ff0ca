/** The query parameters of cursor pagination, shared by the links (Pagination.svelte) and the loads. */

/**
 * `after` / `before` for a page's (first) table; `<prefix>After` / `<prefix>Before` for another
 * table on the same page (e.g. `ledgerAfter`), so that each table pages on its own.
 */
export function cursorParams(prefix = ''): { after: string; before: string } {
  return prefix
    ? { after: `${prefix}After`, before: `${prefix}Before` }
    : { after: 'after', before: 'before' };
}
