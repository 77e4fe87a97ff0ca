/**
 * Test data for the in-process domain tests, made through the domain functions themselves (not
 * raw inserts), so a fixture is always a state the product can reach. Names carry a random
 * part: the tests of one file share a database.
 */
import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { allocateVm } from '../allocation/allocate-vm.ts';
import { recordPayment } from '../billing/payments.ts';
import { parsePlanCatalog } from '../billing/plans.ts';
import type { AllocationView } from '../entities/vm-allocation.entity.ts';
import { type JobOutcome, runWithJobLock } from '../jobs/run-with-job-lock.ts';
import type { PoolVmManifestEntry } from '../pool/manifest.ts';
import { seedPool } from '../pool/refresh-pool.ts';
import { createUser } from '../users/create-user.ts';
import { setUserQuota } from '../users/set-user-quota.ts';

/** A short random tag for names that must not collide with another test's. */
export const uniqueTag = (): string => randomBytes(4).toString('hex');

export interface TestUser {
  id: string;
  email: string;
  /** The user's API bearer token. */
  token: string;
}

/**
 * A user with an empty balance (createUser) who may hold a VM: `vmQuota` (default 1) and
 * `periodEnd` (default 24 hours from now; `null`: no plan) through setUserQuota.
 */
export async function createTestUser(
  em: EntityManager,
  options: { email?: string; currency?: string; vmQuota?: number; periodEnd?: Date | null } = {},
): Promise<TestUser> {
  const email = options.email ?? `user-${uniqueTag()}@example.org`;
  const { user, token } = await createUser(em.fork(), {
    email,
    displayName: 'Test User',
    currency: options.currency,
  });
  await setUserQuota(em.fork(), {
    userId: user.id,
    vmQuota: options.vmQuota ?? 1,
    periodEnd: options.periodEnd === undefined ? new Date(Date.now() + 24 * 3_600_000) : options.periodEnd,
  });
  return { id: user.id, email: user.email, token };
}

/** `count` manifest entries named `<prefix>-001`…, each with its own cockpit link. */
export function poolEntries(count: number, prefix = `vm-${uniqueTag()}`): PoolVmManifestEntry[] {
  return Array.from({ length: count }, (_, i) => {
    const id = `${prefix}-${String(i + 1).padStart(3, '0')}`;
    return {
      id,
      name: `VM ${id}`,
      host: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      region: 'test',
      status: 'AVAILABLE' as const,
      cockpitUrl: `https://cockpit.test/${id}`,
    };
  });
}

/** Adds `count` free VMs to the pool (seedPool: every other VM is left alone); their ids. */
export async function addPoolVms(em: EntityManager, count: number, prefix?: string): Promise<string[]> {
  const entries = poolEntries(count, prefix);
  await seedPool(em.fork(), entries);
  return entries.map((e) => e.id);
}

/** Credits a user through recordPayment; the balance after it. */
export async function creditUser(
  em: EntityManager,
  userId: string,
  amountCents: number,
  extra: { currency?: string; providerRef?: string } = {},
): Promise<number> {
  const { balanceCents } = await recordPayment(em.fork(), {
    userId,
    amountCents,
    currency: extra.currency ?? 'EUR',
    providerRef: extra.providerRef,
  });
  return balanceCents;
}

/** allocateVm as the pool provisioner does it (the VM ends with the user's plan period). */
export function allocateTestVm(em: EntityManager, userId: string): Promise<AllocationView> {
  return allocateVm(em.fork(), { userId, provisioner: 'pool' });
}

/** A small catalog in EUR: `basic` (1 VM, 30 days, 999 per period) and `team` (5 VMs, 30 days, 4900). */
export const testCatalog = () =>
  parsePlanCatalog(
    [
      { code: 'basic', name: 'Basic', vmQuota: 1, periodDays: 30, priceCents: 999 },
      { code: 'team', name: 'Team', vmQuota: 5, periodDays: 30, priceCents: 4900 },
    ],
    'EUR',
  );

/** The domain error's code an async call rejects with (fails the test when it resolves). */
export async function errorCodeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return String((err as { code?: unknown }).code ?? (err as Error).name);
  }
  throw new Error('expected the call to fail, it succeeded');
}

/**
 * A scheduled run of `job` that holds its run lock until `release()` is called; resolves once the
 * lock is held. `done` is the run's outcome.
 */
export async function holdJobLock(
  em: EntityManager,
  job: string,
): Promise<{ release: () => void; done: Promise<JobOutcome<object>> }> {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let started!: () => void;
  const running = new Promise<void>((resolve) => {
    started = resolve;
  });
  const done = runWithJobLock(em, { job, trigger: 'SCHEDULE' }, async () => {
    started();
    await gate;
    return {};
  });
  await running;
  return { release, done };
}
