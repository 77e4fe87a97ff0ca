/**
 * Email from a real api process: an SMTP server that never answers does not hold
 * requestPasswordReset (the answer comes at once, the failure is logged after MAIL_TIMEOUT_MS),
 * and the SMTP credentials never reach the log.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { signUpUser } from './support/factories.ts';
import { graphql } from './support/graphql.ts';

const REQUEST_RESET = graphql(`
  mutation MailTestRequestReset($email: String!) {
    requestPasswordReset(email: $email) {
      __typename
      ... on RequestPasswordResetSuccess { message }
    }
  }
`);

let db: TestDatabase;
let api: ApiProcess;
let silent: Server;
const sockets: Socket[] = [];

beforeAll(async () => {
  // Accepts SMTP connections and never greets.
  silent = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as { port: number };
  db = await createTestDatabase();
  api = await startApi({
    databaseUrl: db.url,
    env: { SMTP_URL: `smtp://mailer:smtp-pass-${port}@127.0.0.1:${port}`, MAIL_TIMEOUT_MS: '700' },
  });
});
afterAll(async () => {
  await api?.stop();
  for (const socket of sockets) socket.destroy();
  silent?.close();
  await db?.drop();
});

describe('mail delivery from the api', () => {
  it('an SMTP server that never answers holds neither the answer nor the api; the failure is logged', async () => {
    const user = await signUpUser(api);
    const started = performance.now();
    const res = await api.gql(REQUEST_RESET, { email: user.email });
    const tookMs = performance.now() - started;
    expect(res.data.requestPasswordReset.__typename).toBe('RequestPasswordResetSuccess');
    expect(tookMs, 'the answer does not wait for the SMTP server').toBeLessThan(700);
    const unknown = await api.gql(REQUEST_RESET, {
      email: `x-${randomBytes(4).toString('hex')}@example.org`,
    });
    expect(unknown.data).toEqual(res.data);

    const line = await api.process.waitForLine(/password reset email could not be sent/, 10_000);
    expect(JSON.parse(line)).toMatchObject({
      level: 50,
      userId: user.id,
      via: expect.stringMatching(/^smtp:\/\/127\.0\.0\.1:\d+$/),
    });
    expect(api.process.lines.filter((l) => l.includes('smtp-pass-'))).toEqual([]);
    // The token is in the database, hashed, though the email never left.
    const rows = await db.query(
      'select token_hash from password_reset_token t join users u on u.id = t.user_id where u.email = $1',
      [user.email],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].token_hash).toMatch(/^[0-9a-f]{64}$/);
  });
});
