/**
 * A Svelte action for a table shown as cards on a phone: it copies each column's header text to
 * the `data-label` of the cells under it (rows added later too), which the card layout shows
 * above each value. The Details button's cell needs none.
 */
export function cellLabels(table: HTMLTableElement) {
  const label = () => {
    const headers = [...table.querySelectorAll<HTMLTableCellElement>('thead th')].map((th) =>
      (th.textContent ?? '').replace(/\s+/g, ' ').trim(),
    );
    for (const tr of table.querySelectorAll<HTMLTableRowElement>('tbody tr:not(.dt-detail)')) {
      [...tr.cells].forEach((cell, i) => {
        const text = cell.classList.contains('dt-toggle-cell') ? '' : (headers[i] ?? '');
        if (cell.dataset.label !== text) cell.dataset.label = text;
      });
    }
  };
  // Rows come and go (pagination, a filter): label the new ones too.
  const observer = new MutationObserver(label);
  observer.observe(table, { childList: true, subtree: true });
  label();
  return {
    destroy() {
      observer.disconnect();
    },
  };
}
