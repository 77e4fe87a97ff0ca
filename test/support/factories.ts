import { randomBytes } from 'node:crypto';
import type { ApiProcess } from './api.ts';

export interface TestUser {
  id: string;
  email: string;
  token: string;
}

/** Creates a user through the admin API. */
export async function createUser(api: ApiProcess, overrides: { email?: string; displayName?: string } = {}) {
  const email = overrides.email ?? `user-${randomBytes(5).toString('hex')}@example.org`;
  const res = await api.admin(
    `mutation($input: CreateUserInput!) { createUser(input: $input) {
      __typename ... on CreateUserSuccess { payload { token user { id email } } }
      ... on ValidationError { problems { path message } } } }`,
    { input: { email, displayName: overrides.displayName ?? 'Test User' } },
  );
  const result = res.data?.createUser;
  if (result?.__typename !== 'CreateUserSuccess')
    throw new Error(`createUser failed: ${JSON.stringify(res)}`);
  return {
    id: result.payload.user.id,
    email: result.payload.user.email,
    token: result.payload.token,
  } as TestUser;
}

export interface PoolVmFixture {
  id: string;
  name?: string;
  host?: string;
  region?: string;
  status?: 'AVAILABLE' | 'MAINTENANCE' | 'RETIRED';
  cockpitUrl?: string | null;
}

export const REFRESH_POOL = `mutation($input: RefreshPoolInput!) { refreshPool(input: $input) {
  __typename
  ... on RefreshPoolSuccess { result { prevPoolSize poolSize added updated retired } }
  ... on ValidationError { code message problems { path message } } } }`;

/** Replaces the pool through the admin API; throws if the manifest is refused. */
export async function refreshPool(api: ApiProcess, manifest: unknown) {
  const res = await api.admin(REFRESH_POOL, { input: { manifest } });
  const result = res.data?.refreshPool;
  if (result?.__typename !== 'RefreshPoolSuccess')
    throw new Error(`refreshPool failed: ${JSON.stringify(res)}`);
  return result.result as {
    prevPoolSize: number;
    poolSize: number;
    added: string[];
    updated: string[];
    retired: string[];
  };
}

export function poolOf(count: number, prefix = 'vm'): PoolVmFixture[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${String(i + 1).padStart(3, '0')}`,
    name: `${prefix} ${i + 1}`,
    host: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    region: 'test',
    status: 'AVAILABLE' as const,
    cockpitUrl: `https://cockpit.test/${prefix}-${i + 1}`,
  }));
}

export const ALLOCATE_VM = `mutation { allocateVm {
  __typename
  ... on AllocateVmSuccess { allocation { id status cockpitUrl expiresAt allocatedAt poolVm { id } } }
  ... on Error { code message } } }`;

export async function allocate(api: ApiProcess, token: string) {
  const res = await api.asUser(token, ALLOCATE_VM);
  if (!res.data?.allocateVm) throw new Error(`allocateVm failed: ${JSON.stringify(res)}`);
  return res.data.allocateVm as
    | {
        __typename: 'AllocateVmSuccess';
        allocation: { id: string; cockpitUrl: string | null; expiresAt: string; poolVm: { id: string } };
      }
    | { __typename: string; code: string; message: string };
}
