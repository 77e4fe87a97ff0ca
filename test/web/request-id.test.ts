/**
 * Request ids through the web UI: the web takes a safe x-request-id (or makes one), answers with
 * it and sends it on every API call it makes for the request. The "api" here is a stand-in that
 * records what it was sent.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWeb, type WebProcess } from '../support/web.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let api: Server;
let web: WebProcess;
const received: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  api = createServer((req, res) => {
    received.push(req.headers);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          data: {
            passwordRules: { minLength: 12, maxLength: 256, summary: 'rules of the stand-in api' },
            signupMode: 'OPEN',
          },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  web = await startWeb(`http://127.0.0.1:${(api.address() as AddressInfo).port}`);
});
afterAll(async () => {
  await web?.stop();
  await new Promise((resolve) => api?.close(resolve));
});

/** GET /signup (its page asks the API for the password rules); the answer's id and the one the API got. */
async function signupPage(
  headers: Record<string, string>,
): Promise<{ answered: string | null; sent: unknown }> {
  received.length = 0;
  const res = await fetch(`${web.url}/signup`, { headers: { accept: 'text/html', ...headers } });
  expect(res.status).toBe(200);
  expect(await res.text()).toMatch(/rules of the stand-in api/i);
  expect(received).toHaveLength(1);
  return { answered: res.headers.get('x-request-id'), sent: received[0]?.['x-request-id'] };
}

describe('web request ids', () => {
  it('answers with a safe incoming id and sends it on to the API', async () => {
    expect(await signupPage({ 'x-request-id': 'browser-req.1' })).toEqual({
      answered: 'browser-req.1',
      sent: 'browser-req.1',
    });
  });

  it('replaces an unsafe or missing id by a new one, the same in the answer and to the API', async () => {
    for (const headers of [
      { 'x-request-id': 'x'.repeat(500) } as Record<string, string>,
      { 'x-request-id': 'two words' },
      {},
    ]) {
      const { answered, sent } = await signupPage(headers);
      expect(answered).toMatch(UUID);
      expect(sent).toBe(answered);
    }
  });
});
