import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runWith, usageError } from '../testing.ts';

/** The operators commands against a stub client: what is parsed, sent and printed. */

const operator = { id: 'op-1', email: 'ada@example.org', role: 'BILLING' };

describe('operators', () => {
  it('add reads the password from the first line of a file and sends the role as the enum', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hero-operators-'));
    const file = join(dir, 'password');
    await writeFile(file, 'correct horse battery\nignored\n');
    const res = await runWith(
      ['operators', 'add', '--email', ' ada@example.org ', '--role', 'Billing', '--password-file', file],
      { createOperator: { __typename: 'CreateOperatorSuccess', operator } },
    );
    expect(res.error).toBeUndefined();
    expect(res.sent[0]?.variables).toEqual({
      input: { email: 'ada@example.org', role: 'BILLING', password: 'correct horse battery' },
    });
    expect(res.out).toContain('role   billing');
  });

  it('refuses an unknown role before sending anything', () => {
    expect(usageError(['operators', 'add', '--email', 'a@example.org', '--role', 'king'])).toContain(
      'owner, operator, billing, viewer',
    );
  });

  it('set-role names the refusal (the last owner)', async () => {
    const res = await runWith(['operators', 'set-role', '--operator', 'op-1', '--role', 'viewer'], {
      setOperatorRole: {
        __typename: 'LastOwnerError',
        code: 'LAST_OWNER',
        message: 'This is the last owner: make another operator owner first',
      },
    });
    expect(res.sent[0]?.variables).toEqual({ id: 'op-1', role: 'VIEWER' });
    expect(res.error?.message).toBe(
      'the role was not changed: LAST_OWNER: This is the last owner: make another operator owner first',
    );
  });

  it('list prints a table of operators', async () => {
    const res = await runWith(['operators', 'list'], {
      operators: [{ ...operator, hasPassword: true, forgeId: null, createdAt: '2026-12-01T00:00:00.000Z' }],
    });
    expect(res.out).toContain('op-1  ada@example.org  billing  password');
  });
});
