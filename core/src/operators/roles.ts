/**
 * Operator roles, and what each may do. The GraphQL schema checks these rights per field
 * (scope-auth); the web admin hides what a role may not do from the same answer (adminMe).
 */
export const OPERATOR_ROLES = ['owner', 'operator', 'billing', 'viewer'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/** A right an admin field asks for: any role reads; `operate` runs the pool, allocations, jobs
 * and users; `billing` moves money; `owner` manages operators. */
export const ADMIN_RIGHTS = ['adminRead', 'operate', 'billing', 'owner'] as const;
export type AdminRight = (typeof ADMIN_RIGHTS)[number];

const RIGHTS: Record<OperatorRole, readonly AdminRight[]> = {
  owner: ADMIN_RIGHTS,
  operator: ['adminRead', 'operate'],
  billing: ['adminRead', 'billing'],
  viewer: ['adminRead'],
};

export function roleHas(role: OperatorRole | null, right: AdminRight): boolean {
  return role !== null && RIGHTS[role].includes(right);
}

export const isOperatorRole = (value: unknown): value is OperatorRole =>
  typeof value === 'string' && (OPERATOR_ROLES as readonly string[]).includes(value);
