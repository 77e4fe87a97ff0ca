import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { graphql } from './support/graphql.ts';

let db: TestDatabase;
let api: ApiProcess;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startApi({ databaseUrl: db.url, env: { PROVISIONER_DEMO: '1' } });
});
afterAll(async () => {
  await api?.stop();
  await db?.drop().catch(() => {});
});

describe('health endpoints', () => {
  it('GET /healthz and /readyz answer 200 while the database is there', async () => {
    const health = await fetch(`${api.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${api.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', database: 'ok' });
  });

  it('never logs the admin secret or a user token', async () => {
    await api.admin(graphql('{ pool { id } }'));
    await api.gql(graphql('{ me { id } }'), {}, { authorization: 'Bearer hero_some-token-to-hide' });
    const out = api.process.lines.join('\n');
    expect(out).not.toContain(api.adminSecret);
    expect(out).not.toContain('hero_some-token-to-hide');
  });

  it('an unexpected error is masked in the response', async () => {
    const res = await api.gql(graphql('{ __typename }'));
    expect(res.data).toEqual({ __typename: 'Query' });
    // Malformed on purpose: sent as text.
    const syntax = await api.raw('{ pool { ');
    expect(syntax.errors?.[0].message).toMatch(/Syntax Error/);
  });

  it('GET /readyz answers 503 when the database is gone, /healthz stays 200', async () => {
    await db.drop();
    const ready = await fetch(`${api.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { status: string }).status).toBe('unavailable');
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
    // A GraphQL call now fails without leaking internals.
    const res = await api.admin(graphql('{ pool { id } }'));
    expect(res.errors?.[0].message).toBe('Unexpected error.');
    expect(res.errors?.[0].extensions?.code).toBe('INTERNAL_SERVER_ERROR');
  });
});
