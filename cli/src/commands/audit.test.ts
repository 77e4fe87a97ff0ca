import { describe, expect, it } from 'vitest';
import { runWith, usageError } from '../testing.ts';

/** audit list against a stub client (end to end against a real api: test/audit-log.test.ts). */
describe('audit list', () => {
  const entry = {
    id: 'e-1',
    at: '2026-12-03T10:00:00.000Z',
    actorKind: 'ADMIN_SECRET',
    actorId: null,
    actorUser: null,
    role: 'OWNER',
    action: 'createUser',
    targetType: 'user',
    targetId: 'u-1',
    targetUser: { email: 'ada@example.org' },
    input: { email: 'ada@example.org' },
    outcome: 'ok',
    requestId: 'r-1',
    clientIp: '127.0.0.1',
  };

  it('sends --since in UTC and prints the target with its email', async () => {
    const res = await runWith(
      ['audit', 'list', '--since', '2026-12-03T11:00:00+01:00', '--action', 'createUser'],
      {
        auditLog: { edges: [{ node: entry }], pageInfo: { hasNextPage: false, endCursor: null } },
      },
    );
    expect(res.error).toBeUndefined();
    expect(res.sent[0].variables).toMatchObject({
      action: 'createUser',
      since: '2026-12-03T10:00:00.000Z',
      targetId: null,
    });
    expect(res.out).toContain('user:u-1 (ada@example.org)');
  });

  it('a --since without its offset is a usage error', () => {
    expect(usageError(['audit', 'list', '--since', '2026-12-03'])).toMatch(
      /--since must be an ISO 8601 date-time with its offset/,
    );
  });
});
