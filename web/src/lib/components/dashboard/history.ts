/** Why a VM of the user's was released, said to the user. */
export function releaseReasonText(reason: string | null | undefined): string {
  switch (reason) {
    case 'USER':
      return 'Released by you';
    case 'ADMIN':
      return 'Released by an operator';
    case 'EXPIRED':
      return 'The plan period ended';
    case 'CREDIT_EXHAUSTED':
      return 'The balance stayed below zero';
    default:
      return 'Released';
  }
}

interface Past {
  releasedAt: string | null;
  allocatedAt: string;
}

/** Most recently released first (then most recently allocated). */
export function byRelease<T extends Past>(rows: readonly T[]): T[] {
  const at = (r: Past) => new Date(r.releasedAt ?? r.allocatedAt).getTime();
  return [...rows].sort(
    (a, b) => at(b) - at(a) || new Date(b.allocatedAt).getTime() - new Date(a.allocatedAt).getTime(),
  );
}
