import { sourceOf } from '@hero/graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { SIGN_UP } from './support/factories.ts';

/**
 * SIGTERM while the api is under load: every request it accepted completes with its real answer
 * (and its write is in the database), new connections are refused, and the process exits 0
 * within 10 s.
 */

let db: TestDatabase;
let api: ApiProcess;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startApi({
    databaseUrl: db.url,
    // 100 sign-ups from one address: lift the per-IP limit for this test.
    env: { PROVISIONER_DEMO: '1', AUTH_RATE_LIMIT_IP: '1000' },
  });
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

interface Outcome {
  ok: boolean;
  email: string;
  detail: string;
}

describe('graceful shutdown under load', () => {
  it('SIGTERM during 100 concurrent sign-ups: all 100 complete, exit 0 within 10 s', async () => {
    const run = Date.now().toString(36);
    let done = 0;
    let signalled: number | null = null;
    let inFlightAtSignal = 0;
    const firstAnswer = Promise.withResolvers<void>();

    // Each sign-up hashes a password with argon2id (tens of ms): a real write under load.
    const requests = Array.from({ length: 100 }, async (_, i): Promise<Outcome> => {
      const email = `load-${run}-${i}@example.com`;
      try {
        const res = await fetch(`${api.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            query: sourceOf(SIGN_UP),
            variables: {
              input: { email, password: 'correct horse battery staple', displayName: `Load ${i}` },
            },
          }),
        });
        const body = (await res.json()) as { data?: { signUp?: { __typename: string } } };
        const typename = body.data?.signUp?.__typename ?? 'none';
        return {
          ok: res.status === 200 && typename === 'SignUpSuccess',
          email,
          detail: `${res.status} ${typename}`,
        };
      } catch (err) {
        return { ok: false, email, detail: String((err as Error).cause ?? err) };
      } finally {
        done++;
        firstAnswer.resolve();
      }
    });

    // Signal as soon as the server is visibly working through the batch.
    await firstAnswer.promise;
    inFlightAtSignal = 100 - done;
    signalled = Date.now();
    api.process.child.kill('SIGTERM');

    const outcomes = await Promise.all(requests);
    const code = await api.process.exited;
    const exitMs = Date.now() - signalled;

    expect(inFlightAtSignal).toBeGreaterThanOrEqual(50);
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    expect(code).toBe(0);
    expect(exitMs).toBeLessThan(10_000);

    // Every answered sign-up really happened.
    const [{ n }] = await db.query<{ n: number }>(
      `select count(*)::int as n from users where email like $1`,
      [`load-${run}-%`],
    );
    expect(n).toBe(100);

    // The shutdown was the graceful one, and the listener is gone.
    const log = api.process.lines.join('\n');
    expect(log).toMatch(/"signal":"SIGTERM".*shutting down/);
    expect(log).toMatch(/"msg":"stopped"/);
    await expect(fetch(`${api.url}/healthz`)).rejects.toThrow();
  });
});
