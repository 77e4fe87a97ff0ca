/**
 * The web process behind a TLS proxy (WEB_ORIGIN=https://…): it starts (adapter-node refuses
 * unknown WEB_ variables), form posts must come from that origin, and session cookies are
 * Secure. No browser: plain HTTP, as a proxy would forward it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, USER_COOKIE } from '../support/web.ts';

const PUBLIC_ORIGIN = 'https://hero.example.test';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ webEnv: { WEB_ORIGIN: PUBLIC_ORIGIN } });
});
afterAll(async () => {
  await stack?.stop();
});

describe('web process with WEB_ORIGIN', () => {
  it('starts and answers /healthz and /readyz', async () => {
    expect(stack.web.process.lines.join('\n')).toContain(`web listening on ${PUBLIC_ORIGIN}`);
    expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${stack.url}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('accepts form posts from WEB_ORIGIN only, and sets Secure session cookies', async () => {
    const user = await stack.signUp();
    const fields = { email: user.email, password: user.password };

    const fromHost = await stack.formPost('/signin', fields);
    await fromHost.body?.cancel();
    expect(fromHost.status, 'the Host header is not the origin any more').toBe(403);

    const fromOrigin = await stack.formPost('/signin', fields, { origin: PUBLIC_ORIGIN });
    await fromOrigin.body?.cancel();
    expect(fromOrigin.status).toBe(303);
    const cookie = fromOrigin.headers.get('set-cookie') ?? '';
    expect(cookie).toContain(`${USER_COOKIE}=`);
    expect(cookie).toMatch(/;\s*Secure/i);
    expect(cookie).toMatch(/;\s*HttpOnly/i);
  });
});
