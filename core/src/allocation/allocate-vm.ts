import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { PG_UNIQUE_VIOLATION, withNativeTransaction } from '../db/native-pool.ts';
import type { AllocationStatus, AllocationView, ReleaseReason } from '../entities/vm-allocation.entity.ts';
import {
  AccountDeletedError,
  AccountSuspendedError,
  BalanceNegativeError,
  EmailNotVerifiedError,
  NoActivePlanError,
  NotFoundError,
  PoolExhaustedError,
  QuotaExceededError,
} from '../errors.ts';
import { isUuid } from '../lib/ids.ts';
import { LOCK_USER_SQL, lockedUser } from '../users/lock-user.ts';

export interface AllocateVmInput {
  userId: string;
  provisioner: string;
}

const MAX_ATTEMPTS = 3;

/**
 * The statements of the allocation transaction (shared with the allocate benchmark's raw
 * baseline). The user lock is the users module's `lockUser`, as native text.
 */
export const LOCK_USER = LOCK_USER_SQL;
/** The user's ACTIVE allocations and balance, read after the user row is locked ($1: the user id). */
export const COUNT_ACTIVE = `select (select count(*)::int from vm_allocation a where a.user_id = b.user_id and a.status = 'ACTIVE') as n,
        b.credit_balance_cents::text as balance_cents, b.currency
   from billing b where b.user_id = $1`;
/**
 * Picks and locks a free VM, inserts the allocation ($1 id, $2 user, $3 provisioner,
 * $4 allocatedAt, $5 expiresAt) and points the VM at it; no row when the pool is exhausted.
 * (The `held` update runs although the final select does not read it: a data-modifying WITH
 * always runs.)
 */
export const PICK_AND_ALLOCATE = `with vm as (
   select id, cockpit_url from pool_vm
    where status = 'AVAILABLE' and active_allocation_id is null
    order by id limit 1 for update skip locked
 ), allocation as (
   insert into vm_allocation (id, user_id, pool_vm_id, provisioner, status, allocated_at, expires_at, cockpit_url)
   select $1, $2, vm.id, $3, 'ACTIVE', $4, $5, vm.cockpit_url from vm
   returning *
 ), held as (
   update pool_vm p set active_allocation_id = allocation.id, updated_at = now()
     from allocation where p.id = allocation.pool_vm_id
   returning p.id
 )
 select * from allocation`;

/**
 * Hands one free pool VM to a user who may hold one (an active plan period, a balance not below
 * zero, room in the quota), in one transaction:
 * the user row is locked (so a user's concurrent requests cannot overrun the quota), one free
 * VM is locked with FOR UPDATE SKIP LOCKED, and the allocation plus the VM's
 * `active_allocation_id` are written together. The partial unique index "one ACTIVE
 * allocation per pool VM" is the backstop; hitting it retries with another VM.
 *
 * The allocation hot path: plain statements on the ORM's own pg pool (withNativeTransaction),
 * answered with the committed row as a plain view (no unit of work involved).
 */
export async function allocateVm(em: EntityManager, input: AllocateVmInput): Promise<AllocationView> {
  if (!isUuid(input.userId)) throw new NotFoundError('User', input.userId);
  for (let attempt = 1; ; attempt++) {
    try {
      return toView(await withNativeTransaction(em, (client) => allocateOnce(client, input)));
    } catch (err) {
      if ((err as { code?: string }).code === PG_UNIQUE_VIOLATION && attempt < MAX_ATTEMPTS) continue;
      throw err;
    }
  }
}

interface AllocationRow {
  id: string;
  user_id: string;
  pool_vm_id: string;
  provisioner: string;
  status: AllocationStatus;
  allocated_at: Date | string;
  expires_at: Date | string;
  released_at: Date | string | null;
  release_reason: ReleaseReason | null;
  cockpit_url: string | null;
}

/** The ORM's pool may hand timestamps back as text. */
const toDate = (value: Date | string): Date => (value instanceof Date ? value : new Date(value));

function toView(row: AllocationRow): AllocationView {
  return {
    id: row.id,
    user: { id: row.user_id },
    poolVm: { id: row.pool_vm_id },
    provisioner: row.provisioner,
    status: row.status,
    allocatedAt: toDate(row.allocated_at),
    expiresAt: toDate(row.expires_at),
    releasedAt: row.released_at === null ? null : toDate(row.released_at),
    releaseReason: row.release_reason,
    cockpitUrl: row.cockpit_url,
  };
}

type Client = Parameters<Parameters<typeof withNativeTransaction>[1]>[0];

async function allocateOnce(client: Client, input: AllocateVmInput): Promise<AllocationRow> {
  const users = await client.query<Parameters<typeof lockedUser>[0]>(LOCK_USER, [input.userId]);
  const found = users.rows[0];
  if (!found) throw new NotFoundError('User', input.userId);
  const user = lockedUser(found);
  // Under the lock: a suspension or deletion that committed first is seen, one that comes later
  // waits for this allocation and releases it.
  if (user.status === 'suspended') throw new AccountSuspendedError();
  if (user.status === 'deleted') throw new AccountDeletedError(input.userId);
  if (!user.email_verified) throw new EmailNotVerifiedError();
  const now = new Date();
  // A fresh statement snapshot, taken after the user row is locked.
  const counted = await client.query<{ n: number; balance_cents: string; currency: string }>(COUNT_ACTIVE, [
    input.userId,
  ]);
  const account = counted.rows[0];
  if (!account) throw new NotFoundError('User', input.userId);
  const active = account.n;
  const periodEnd = user.vm_quota_period_end;
  // A VM lives within a plan period (a plan, an operator's quota, a sign-up trial) and ends with it.
  if (!periodEnd || periodEnd.getTime() <= now.getTime()) throw new NoActivePlanError(periodEnd);
  const balanceCents = Number(account.balance_cents);
  if (balanceCents < 0) throw new BalanceNegativeError(balanceCents, account.currency);
  if (active >= user.vm_quota) {
    throw new QuotaExceededError(
      `Your quota allows ${user.vm_quota} active VM${user.vm_quota === 1 ? '' : 's'} and you have ${active}`,
      user.vm_quota,
      active,
    );
  }
  // One statement picks and locks a free VM, inserts the allocation and points the VM at it.
  // Rows locked by concurrent allocators are skipped; a row whose lock was waited for is
  // re-checked by Postgres against its new version, so a VM taken meanwhile is never picked.
  const expiresAt = periodEnd;
  const inserted = await client.query<AllocationRow>(PICK_AND_ALLOCATE, [
    randomUUID(),
    input.userId,
    input.provisioner,
    now,
    expiresAt,
  ]);
  const row = inserted.rows[0];
  if (!row) throw new PoolExhaustedError();
  return row;
}
