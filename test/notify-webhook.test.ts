import { NOTIFY_TOPICS } from '@hero/core/outbox/notify-events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { allocate, createUser, poolOf, recordPayment } from './support/factories.ts';
import { startFakeDeployer, waitFor } from './support/fake-deployer.ts';
import { graphql } from './support/graphql.ts';
import { spawnTs } from './support/process.ts';
import { TEST_WEBHOOK_SECRET, verifyStandardWebhook } from './support/standard-webhooks.ts';

let db: TestDatabase;
let api: ApiProcess;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startApi({ databaseUrl: db.url, env: { VM_POOL_JSON: JSON.stringify(poolOf(2, 'notify')) } });
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

const RELEASE_MINE = graphql(
  `mutation ReleaseForNotify($id: ID!) { releaseMyAllocation(id: $id) { __typename } }`,
);
const REQUEST_RESET = graphql(
  `mutation NotifyRequestReset($email: String!) { requestPasswordReset(email: $email) { __typename } }`,
);

interface OutboxEventRow {
  id: string;
  topic: string;
  payload: Record<string, unknown>;
  dedupe_key: string;
  status: string;
  attempts: number;
}

describe('user events to NOTIFY_WEBHOOK_URL', () => {
  it('sends payment.received, allocation.released, the security events and every other user event once each, signed the Standard Webhooks way, retrying a 5xx', async () => {
    const user = await createUser(api);
    const { paymentId } = await recordPayment(api, user.id, 1234, { providerRef: 'notify-1' });
    const allocated = await allocate(api, user.token);
    if (allocated.__typename !== 'AllocateVmSuccess') throw new Error(JSON.stringify(allocated));
    const allocationId = allocated.allocation.id;
    expect(
      (await api.asUser(user.token, RELEASE_MINE, { id: allocationId })).data.releaseMyAllocation,
    ).toEqual({
      __typename: 'ReleaseMyAllocationSuccess',
    });
    // A second release changes nothing: still one event.
    await api.asUser(user.token, RELEASE_MINE, { id: allocationId });
    expect((await api.gql(REQUEST_RESET, { email: user.email })).data.requestPasswordReset.__typename).toBe(
      'RequestPasswordResetSuccess',
    );

    const events = await db.query<OutboxEventRow>(
      `select id::text, topic, payload, dedupe_key, status, attempts from outbox
        where topic in ('api_token.created', 'payment.received', 'allocation.released', 'password.reset_requested')
          and payload->>'userId' = $1 order by id`,
      [user.id],
    );
    expect(events.map((e) => e.topic)).toEqual([
      'api_token.created',
      'payment.received',
      'allocation.released',
      'password.reset_requested',
    ]);
    const [tokenCreated, payment, released, resetRequested] = events;
    expect([payment.dedupe_key, released.dedupe_key]).toEqual([
      `payment.received:${paymentId}`,
      `allocation.released:${allocationId}`,
    ]);
    expect(payment.payload).toMatchObject({
      paymentId,
      email: user.email,
      amountCents: 1234,
      currency: 'EUR',
      balanceCents: 1234,
    });
    expect(released.payload).toMatchObject({ allocationId, email: user.email, reason: 'USER' });
    // The security events name the token and the link without carrying either.
    expect(tokenCreated.payload).toMatchObject({ email: user.email, name: 'created by operator' });
    expect(JSON.stringify(tokenCreated.payload)).not.toContain(user.token);
    expect(Object.keys(resetRequested.payload).sort()).toEqual(['email', 'expiresAt', 'userId']);
    // Every other user event goes the same way (their writers are tested with their domains).
    const others = NOTIFY_TOPICS.filter((t) => !events.some((e) => e.topic === t));
    for (const topic of others) {
      const [row] = await db.query<OutboxEventRow>(
        `insert into outbox (topic, payload, dedupe_key, status, attempts, next_attempt_at, created_at)
         values ($1, $2, $3, 'PENDING', 0, now(), now())
         returning id::text, topic, payload, dedupe_key, status, attempts`,
        [topic, { userId: user.id, email: user.email, probe: topic }, `${topic}:probe:${user.id}`],
      );
      events.push(row);
    }

    // The receiver fails the first attempt of every event.
    const webhook = await startFakeDeployer((call) =>
      call.nthForKey === 1 ? { status: 503, body: 'busy' } : { status: 204, body: '' },
    );
    const worker = spawnTs('workers/src/main.ts', ['outbox'], {
      DATABASE_URL: db.url,
      NOTIFY_WEBHOOK_URL: `${webhook.url}/hooks/hero`,
      NOTIFY_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      OUTBOX_INTERVAL_MS: '200',
      OUTBOX_RETRY_BASE_MS: '200',
    });
    try {
      await waitFor(
        async () => {
          const rows = await db.query<{ status: string }>(
            'select status from outbox where id = any($1::bigint[])',
            [events.map((e) => e.id)],
          );
          return rows.every((r) => r.status === 'DONE');
        },
        60_000,
        'every event DONE',
      );
    } catch (err) {
      console.error(
        JSON.stringify(await db.query('select id, topic, status, attempts, last_error from outbox')),
        worker.lines.slice(-30).join('\n'),
      );
      throw err;
    } finally {
      const exit = await worker.stop();
      await webhook.stop();
      if (exit !== 0) console.error(worker.lines.slice(-20).join('\n'));
      expect(exit).toBe(0);
    }
    for (const event of events) {
      const calls = webhook.callsFor(`outbox-${event.id}`);
      expect(calls).toHaveLength(2);
      for (const call of calls) {
        expect(call.headers['webhook-id']).toBe(`outbox-${event.id}`);
        // Verified by the reference library; each attempt is signed afresh.
        const body = verifyStandardWebhook(call);
        expect(body).toMatchObject({ type: event.topic, data: event.payload });
        expect(Number.isNaN(Date.parse(body.timestamp))).toBe(false);
      }
      expect(() =>
        verifyStandardWebhook({ ...calls[1], rawBody: calls[1].rawBody.replace('}', ' }') }),
      ).toThrow();
    }
    const [done] = await db.query<{ attempts: number }>(
      'select max(attempts) as attempts from outbox where id = any($1::bigint[])',
      [events.map((e) => e.id)],
    );
    expect(done.attempts).toBe(2);
  }, 120_000);
});
