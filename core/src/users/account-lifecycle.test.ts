import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { allocateVm } from '../allocation/allocate-vm.ts';
import { createApiToken, userIdForApiToken } from '../auth/api-tokens.ts';
import { issueInvitation } from '../auth/invitations.ts';
import { requestPasswordReset } from '../auth/password-reset.ts';
import { DEFAULT_AUTH_SETTINGS, findLiveSession, openSession, signIn, signUp } from '../auth/sessions.ts';
import { hashToken } from '../auth/tokens.ts';
import { checkLedger } from '../billing/ledger.ts';
import { recordPayment } from '../billing/payments.ts';
import { handleStripeWebhook } from '../billing/stripe-webhook.ts';
import { createLogger } from '../lib/logger.ts';
import { memoryMailer } from '../mail/mailer.ts';
import { provisionerNamed } from '../provisioners/registry.ts';
import { useTestDatabase } from '../testing/database.ts';
import { addPoolVms, allocateTestVm, creditUser, errorCodeOf, uniqueTag } from '../testing/factories.ts';
import { deleteUser, suspendUser, tombstoneEmail, unsuspendUser } from './account-lifecycle.ts';
import { setUserQuota } from './set-user-quota.ts';

const t = useTestDatabase({ poolMax: 10 });
const deps = { provisionerFor: provisionerNamed };
const ADMIN_SECRET = 'admin-secret-for-tests-0123456789';
const PASSWORD = 'correct horse battery';
const settings = DEFAULT_AUTH_SETTINGS;
const client = () => ({ ip: `10.2.${uniqueTag()}`, userAgent: 'vitest' });
const inADay = () => new Date(Date.now() + 24 * 3_600_000);

/** A signed-up user (password, session) with an API token and a plan for `vmQuota` VMs. */
async function member(vmQuota = 1) {
  const email = `life-${uniqueTag()}@example.org`;
  const { user, session } = await signUp(
    t.em(),
    { email, displayName: 'Ada Lovelace', password: PASSWORD },
    { currency: 'EUR', settings, client: client() },
  );
  const { token } = await createApiToken(t.em(), { userId: user.id, name: 'ci' });
  await setUserQuota(t.em(), { userId: user.id, vmQuota, periodEnd: inADay() });
  return { id: user.id, email, session, token };
}

const signInAs = (email: string, password = PASSWORD) =>
  signIn(t.em(), { email, password }, { settings, client: client() });

const outbox = (topic: string, userId: string) =>
  t.query<{ payload: Record<string, unknown> }>(
    `select payload from outbox where topic = $1 and payload->>'userId' = $2 order by id`,
    [topic, userId],
  );

describe('suspendUser / unsuspendUser', () => {
  it('refuses sign-in, sessions, API tokens and allocation while suspended; unsuspend restores them', async () => {
    await addPoolVms(t.em(), 2);
    const u = await member(2);
    const running = await allocateTestVm(t.em(), u.id);

    const result = await suspendUser(t.em(), { userId: u.id, reason: '  chargeback  ' }, deps);
    expect(result).toMatchObject({ sessionsEnded: 1, allocationsReleased: 0 });
    expect(result.user).toMatchObject({ status: 'suspended', suspendedReason: 'chargeback' });

    expect(await errorCodeOf(signInAs(u.email))).toBe('ACCOUNT_SUSPENDED');
    // A wrong password still says only that: the suspension is no hint to a guesser.
    expect(await errorCodeOf(signInAs(u.email, 'wrong password here'))).toBe('INVALID_CREDENTIALS');
    expect(await findLiveSession(t.em(), u.session.token, ADMIN_SECRET)).toBeNull();
    // A session that slipped in (opened as the suspension committed) is refused by the lookup itself.
    const late = await t
      .em()
      .transactional(async (tx) => openSession(tx, 'USER', settings, client(), { userId: u.id }));
    expect(await findLiveSession(t.em(), late.token, ADMIN_SECRET)).toBeNull();
    expect(await userIdForApiToken(t.em(), hashToken(u.token))).toBeNull();
    expect(await errorCodeOf(allocateTestVm(t.em(), u.id))).toBe('ACCOUNT_SUSPENDED');
    // Not asked to release: the running VM stays.
    const [kept] = await t.query('select status from vm_allocation where id = $1', [running.id]);
    expect(kept.status).toBe('ACTIVE');

    const [event] = await outbox('user.suspended', u.id);
    expect(event.payload).toMatchObject({ userId: u.id, email: u.email, reason: 'chargeback' });

    // Suspending again replaces the reason, without a second event.
    await suspendUser(t.em(), { userId: u.id, reason: 'still open' }, deps);
    expect(await outbox('user.suspended', u.id)).toHaveLength(1);

    const suspendedAt = (await outbox('user.suspended', u.id))[0].payload.suspendedAt;
    const back = await unsuspendUser(t.em(), u.id);
    expect(back).toMatchObject({ status: 'active', suspendedAt: null, suspendedReason: null });
    const lifted = await outbox('user.unsuspended', u.id);
    expect(lifted).toHaveLength(1);
    expect(lifted[0].payload).toMatchObject({ userId: u.id, email: u.email, suspendedAt });
    expect(Date.parse(String(lifted[0].payload.unsuspendedAt))).toBeGreaterThanOrEqual(
      Date.parse(String(suspendedAt)),
    );
    // Unsuspending an active account changes nothing and tells nobody.
    await unsuspendUser(t.em(), u.id);
    expect(await outbox('user.unsuspended', u.id)).toHaveLength(1);
    const signedIn = await signInAs(u.email);
    expect(await findLiveSession(t.em(), signedIn.session.token, ADMIN_SECRET)).toMatchObject({
      userId: u.id,
    });
    expect(await userIdForApiToken(t.em(), hashToken(u.token))).toEqual({ id: u.id });
    expect((await allocateTestVm(t.em(), u.id)).status).toBe('ACTIVE');
    // The session the suspension ended stays ended.
    expect(await findLiveSession(t.em(), u.session.token, ADMIN_SECRET)).toBeNull();
  });

  it('with releaseVms releases the VMs (SUSPENDED) through the provisioner, deployer event included', async () => {
    await addPoolVms(t.em(), 1);
    const u = await member();
    const a = await allocateTestVm(t.em(), u.id);
    const result = await suspendUser(t.em(), { userId: u.id, reason: 'abuse', releaseVms: true }, deps);
    expect(result.allocationsReleased).toBe(1);
    const [row] = await t.query('select status, release_reason from vm_allocation where id = $1', [a.id]);
    expect(row).toEqual({ status: 'RELEASED', release_reason: 'SUSPENDED' });
    const [vm] = await t.query('select active_allocation_id from pool_vm where id = $1', [a.poolVm.id]);
    expect(vm.active_allocation_id).toBeNull();
    expect(await outbox('vm.release', u.id)).toHaveLength(1);
    expect((await outbox('allocation.released', u.id))[0]?.payload).toMatchObject({ reason: 'SUSPENDED' });
    expect((await outbox('user.suspended', u.id))[0]?.payload).toMatchObject({ allocationsReleased: 1 });
  });

  it('still credits money that comes in for a suspended user (a payment, a Stripe top-up)', async () => {
    const u = await member();
    await suspendUser(t.em(), { userId: u.id, reason: 'review' }, deps);
    await creditUser(t.em(), u.id, 500);
    const secret = 'whsec_lifecycle_test';
    const payload = JSON.stringify({
      id: `evt_${uniqueTag()}`,
      object: 'event',
      type: 'checkout.session.completed',
      data: {
        object: {
          object: 'checkout.session',
          id: `cs_${uniqueTag()}`,
          payment_status: 'paid',
          amount_total: 2_000,
          currency: 'eur',
          client_reference_id: u.id,
          payment_intent: `pi_${uniqueTag()}`,
        },
      },
    });
    const res = await handleStripeWebhook(
      t.em(),
      { secret, log: createLogger({ name: 'lifecycle-test', level: 'silent', pretty: false }) },
      Buffer.from(payload),
      Stripe.webhooks.generateTestHeaderString({ payload, secret }),
    );
    expect(res.status).toBe(200);
    const [billing] = await t.query('select credit_balance_cents::int as b from billing where user_id = $1', [
      u.id,
    ]);
    expect(billing.b).toBe(2_500);
  });

  it('refuses a blank reason or an unknown user and changes nothing', async () => {
    const u = await member();
    expect(await errorCodeOf(suspendUser(t.em(), { userId: u.id, reason: '  ' }, deps))).toBe(
      'BAD_USER_INPUT',
    );
    expect(
      await errorCodeOf(
        suspendUser(t.em(), { userId: '00000000-0000-4000-8000-000000000000', reason: 'x' }, deps),
      ),
    ).toBe('NOT_FOUND');
    expect(await errorCodeOf(suspendUser(t.em(), { userId: 'nope', reason: 'x' }, deps))).toBe('NOT_FOUND');
    const [row] = await t.query('select status from users where id = $1', [u.id]);
    expect(row.status).toBe('active');
    expect(await findLiveSession(t.em(), u.session.token, ADMIN_SECRET)).not.toBeNull();
  });
});

describe('deleteUser', () => {
  it('erases the personal data, releases the VMs and keeps the ledger under the tombstone', async () => {
    await addPoolVms(t.em(), 1);
    const u = await member();
    await t.query('update users set forge_id = $2 where id = $1', [u.id, `https://forge.test#${u.id}`]);
    await t.em().transactional((tx) => issueInvitation(tx, u.id, 'https://web.test'));
    const a = await allocateTestVm(t.em(), u.id);
    await creditUser(t.em(), u.id, 1_000);
    await recordPayment(t.em(), { userId: u.id, amountCents: 250, currency: 'EUR' });
    const ledgerBefore = await t.query<{ id: string; amount_cents: string; balance_after_cents: string }>(
      'select id, amount_cents, balance_after_cents from ledger_entry where user_id = $1 order by id',
      [u.id],
    );

    // A balance above zero needs force; the wrong email is refused; nothing changes either way.
    expect(await errorCodeOf(deleteUser(t.em(), { userId: u.id, confirmEmail: u.email }, deps))).toBe(
      'BALANCE_NOT_ZERO',
    );
    expect(
      await errorCodeOf(
        deleteUser(t.em(), { userId: u.id, confirmEmail: 'someone@example.org', force: true }, deps),
      ),
    ).toBe('BAD_USER_INPUT');
    expect((await t.query('select status from users where id = $1', [u.id]))[0].status).toBe('active');

    const result = await deleteUser(
      t.em(),
      { userId: u.id, confirmEmail: ` ${u.email.toUpperCase()} `, force: true },
      deps,
    );
    expect(result).toMatchObject({
      allocationsReleased: 1,
      sessionsRemoved: 1,
      apiTokensRemoved: 1,
      balanceCents: 1_250,
      currency: 'EUR',
    });

    const [row] = await t.query('select * from users where id = $1', [u.id]);
    expect(row).toMatchObject({
      status: 'deleted',
      email: tombstoneEmail(u.id),
      display_name: 'Deleted user',
      forge_id: null,
      password_hash: null,
      vm_quota: 0,
      vm_quota_period_end: null,
      auto_renew: false,
    });
    expect(row.deleted_at).toBeInstanceOf(Date);
    for (const table of ['auth_session', 'api_token', 'password_reset_token'])
      expect(await t.query(`select 1 from ${table} where user_id = $1`, [u.id]), table).toEqual([]);
    const [alloc] = await t.query('select status, release_reason from vm_allocation where id = $1', [a.id]);
    expect(alloc).toEqual({ status: 'RELEASED', release_reason: 'DELETED' });
    expect(await outbox('vm.release', u.id)).toHaveLength(1);

    // The ledger and the balance are untouched, and still add up.
    expect(
      await t.query(
        'select id, amount_cents, balance_after_cents from ledger_entry where user_id = $1 order by id',
        [u.id],
      ),
    ).toEqual(ledgerBefore);
    const [billing] = await t.query('select credit_balance_cents::int as b from billing where user_id = $1', [
      u.id,
    ]);
    expect(billing.b).toBe(1_250);
    expect(await t.query('select 1 from payment_event where user_id = $1', [u.id])).toHaveLength(2);
    const check = await checkLedger(t.em());
    expect({ drifted: check.usersDrifted, chainBreaks: check.chainBreaks }).toEqual({
      drifted: 0,
      chainBreaks: 0,
    });

    // The event says what happened without who; no event keeps the address.
    const [deleted] = await outbox('user.deleted', u.id);
    expect(deleted.payload).toEqual({
      userId: u.id,
      deletedAt: result.deletedAt.toISOString(),
      allocationsReleased: 1,
      balanceCents: 1_250,
      currency: 'EUR',
    });
    expect(await t.query('select id from outbox where payload::text like $1', [`%${u.email}%`])).toEqual([]);

    // The tombstone cannot sign in or change again; the email is free for a new account.
    expect(await errorCodeOf(signInAs(tombstoneEmail(u.id)))).toBe('INVALID_CREDENTIALS');
    expect(await errorCodeOf(signInAs(u.email))).toBe('INVALID_CREDENTIALS');
    for (const call of [
      () => suspendUser(t.em(), { userId: u.id, reason: 'x' }, deps),
      () => unsuspendUser(t.em(), u.id),
      () => deleteUser(t.em(), { userId: u.id, confirmEmail: tombstoneEmail(u.id), force: true }, deps),
      () => allocateVm(t.em(), { userId: u.id, provisioner: 'pool' }),
      () => createApiToken(t.em(), { userId: u.id, name: 'again' }),
    ])
      expect(await errorCodeOf(call())).toBe('ACCOUNT_DELETED');
    const mailer = memoryMailer();
    await requestPasswordReset(t.em(), tombstoneEmail(u.id), {
      settings: { webUrl: 'https://web.test', rateLimitEmail: 10, rateLimitIp: 10 },
      client: client(),
      mailer,
      log: createLogger({ name: 'lifecycle-test', level: 'silent', pretty: false }),
    });
    expect(mailer.sent).toEqual([]);
    expect(await t.query('select 1 from password_reset_token where user_id = $1', [u.id])).toEqual([]);
    const again = await signUp(
      t.em(),
      { email: u.email, displayName: 'Ada again', password: PASSWORD },
      { currency: 'EUR', settings, client: client() },
    );
    expect(again.user.id).not.toBe(u.id);
  });

  it('deletes a user with no balance without force; a suspended one too', async () => {
    const u = await member();
    await suspendUser(t.em(), { userId: u.id, reason: 'leaving' }, deps);
    const result = await deleteUser(t.em(), { userId: u.id, confirmEmail: u.email }, deps);
    expect(result).toMatchObject({ balanceCents: 0, sessionsRemoved: 1 });
    const [row] = await t.query('select status, suspended_at, suspended_reason from users where id = $1', [
      u.id,
    ]);
    expect(row).toEqual({ status: 'deleted', suspended_at: null, suspended_reason: null });
  });

  it('racing allocations: each one is either refused or released by the delete; no VM stays held', async () => {
    await addPoolVms(t.em(), 4);
    const u = await member(4);
    const allocations = Array.from({ length: 4 }, () => allocateTestVm(t.em(), u.id));
    const deleted = deleteUser(t.em(), { userId: u.id, confirmEmail: u.email }, deps);
    const outcomes = await Promise.allSettled(allocations);
    await deleted;
    for (const o of outcomes)
      if (o.status === 'rejected') expect((o.reason as { code?: string }).code).toBe('ACCOUNT_DELETED');
    const rows = await t.query<{ status: string; release_reason: string | null; pool_vm_id: string }>(
      'select status, release_reason, pool_vm_id from vm_allocation where user_id = $1',
      [u.id],
    );
    expect(rows).toHaveLength(outcomes.filter((o) => o.status === 'fulfilled').length);
    for (const r of rows) expect(r).toMatchObject({ status: 'RELEASED', release_reason: 'DELETED' });
    const held = await t.query(
      'select id from pool_vm where active_allocation_id in (select id from vm_allocation where user_id = $1)',
      [u.id],
    );
    expect(held).toEqual([]);
  });

  it('racing top-ups: every payment is credited once (to the tombstone if it lands after), the ledger adds up', async () => {
    const u = await member();
    const payments = Array.from({ length: 6 }, (_, i) =>
      recordPayment(t.em(), { userId: u.id, amountCents: 100 + i, currency: 'EUR' }),
    );
    const deleted = deleteUser(t.em(), { userId: u.id, confirmEmail: u.email, force: true }, deps);
    const results = await Promise.all(payments);
    const result = await deleted;
    const total = results.reduce((sum, r) => sum + r.payment.amountCents, 0);
    const [billing] = await t.query<{ b: number; ledger: number; n: number }>(
      `select b.credit_balance_cents::int as b,
              (select sum(amount_cents)::int from ledger_entry l where l.user_id = b.user_id) as ledger,
              (select count(*)::int from ledger_entry l where l.user_id = b.user_id) as n
         from billing b where b.user_id = $1`,
      [u.id],
    );
    expect(billing).toEqual({ b: total, ledger: total, n: 6 });
    // What the delete saw is a prefix of the payments: never more than all of them.
    expect(result.balanceCents).toBeLessThanOrEqual(total);
    const check = await checkLedger(t.em());
    expect({ drifted: check.usersDrifted, chainBreaks: check.chainBreaks }).toEqual({
      drifted: 0,
      chainBreaks: 0,
    });
  });
});
