/**
 * A Svelte action for a horizontally scrolling box (a wide table, the phone's admin nav): it sets
 * `data-more-left` / `data-more-right` on the box's parent while content hides on that side, so
 * the parent can draw a shadow on the edge that still scrolls (the cue people otherwise miss),
 * and makes an overflowing box focusable so it scrolls by keyboard too.
 */
export function scrollCue(node: HTMLElement, options: { focusable?: boolean } = {}) {
  const host = node.parentElement;
  const update = () => {
    if (!host) return;
    const overflowing = node.scrollWidth - node.clientWidth > 1;
    const left = overflowing && node.scrollLeft > 1;
    const right = overflowing && node.scrollLeft + node.clientWidth < node.scrollWidth - 1;
    host.toggleAttribute('data-more-left', left);
    host.toggleAttribute('data-more-right', right);
    if (options.focusable !== false) {
      if (overflowing) node.setAttribute('tabindex', '0');
      else node.removeAttribute('tabindex');
    }
  };
  const observer = new ResizeObserver(update);
  observer.observe(node);
  if (node.firstElementChild) observer.observe(node.firstElementChild);
  node.addEventListener('scroll', update, { passive: true });
  update();
  // The content settles after mount (web fonts, hydrated dates) without resizing the box itself.
  const frame = requestAnimationFrame(update);
  void document.fonts?.ready.then(update);
  return {
    destroy() {
      cancelAnimationFrame(frame);
      observer.disconnect();
      node.removeEventListener('scroll', update);
    },
  };
}
