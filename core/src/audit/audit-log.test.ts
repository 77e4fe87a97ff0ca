import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../testing/database.ts';
import { uniqueTag } from '../testing/factories.ts';
import { applyAuditRetention, listAuditLog, purgeAuditLog, recordAudit } from './audit-log.ts';
import { MAX_SUMMARY_STRING, REDACTED, redactInput } from './redact.ts';

const t = useTestDatabase();

async function recorded(action: string, input: unknown = {}) {
  await recordAudit(t.em(), {
    actorKind: 'admin-secret',
    actorId: null,
    role: 'admin',
    action,
    targetType: 'user',
    targetId: `u-${action}`,
    input,
    outcome: 'ok',
    requestId: 'req-1',
    clientIp: '10.0.0.1',
  });
  const [row] = await t.query<{ id: string }>('select id::text from audit_log where action = $1', [action]);
  if (!row) throw new Error('not recorded');
  return row.id;
}

describe('redactInput', () => {
  it('replaces credential-like fields at any depth and cuts long strings', () => {
    const out = redactInput({
      secret: 's3cret',
      input: {
        email: 'a@b.c',
        password: 'hunter2',
        apiToken: 'tok',
        idempotencyKey: 'k',
        note: 'x'.repeat(500),
      },
      list: [{ Authorization: 'Bearer abc' }],
    }) as Record<string, any>;
    expect(out.secret).toBe(REDACTED);
    expect(out.input.password).toBe(REDACTED);
    expect(out.input.apiToken).toBe(REDACTED);
    expect(out.input.idempotencyKey).toBe(REDACTED);
    expect(out.input.email).toBe('a@b.c');
    expect(out.input.note.length).toBeLessThan(MAX_SUMMARY_STRING + 30);
    expect(out.list[0].Authorization).toBe(REDACTED);
    expect(JSON.stringify(out)).not.toMatch(/s3cret|hunter2|Bearer abc/);
  });
});

describe('audit_log', () => {
  it('keeps a row of hostile text: NUL and lone surrogates become U+FFFD, in the input and the target', async () => {
    const tag = `hostile-${uniqueTag()}`;
    await recordAudit(t.em(), {
      actorKind: 'admin-secret',
      actorId: null,
      role: 'admin',
      action: tag,
      targetType: 'user',
      targetId: 'a\u0000b',
      input: { note: 'rocket \ud83d and nul \u0000', 'odd\u0000': 1 },
      outcome: 'VALIDATION_FAILED',
    });
    const { rows } = await listAuditLog(t.em(), { action: tag }, { first: 5 });
    expect(rows).toHaveLength(1);
    expect(rows[0].targetId).toBe('a\uFFFDb');
    expect(rows[0].input).toEqual({ note: 'rocket \uFFFD and nul \uFFFD', 'odd\uFFFD': 1 });
  });

  it('filters by the kind of target', async () => {
    const tag = `kind-${uniqueTag()}`;
    for (const [targetType, targetId] of [
      ['user', `u-${tag}`],
      ['allocation', `a-${tag}`],
      ['operator', `o-${tag}`],
    ] as const) {
      await recordAudit(t.em(), {
        actorKind: 'admin-secret',
        actorId: null,
        role: 'admin',
        action: tag,
        targetType,
        targetId,
        input: {},
        outcome: 'ok',
      });
    }
    const { rows } = await listAuditLog(t.em(), { action: tag, targetType: 'allocation' }, { first: 10 });
    expect(rows.map((r) => [r.targetType, r.targetId])).toEqual([['allocation', `a-${tag}`]]);
    const both = await listAuditLog(
      t.em(),
      { action: tag, targetType: 'operator', targetId: `u-${tag}` },
      { first: 10 },
    );
    expect(both.rows).toEqual([]);
  });

  it('records a row that is redacted and listed newest first with filters', async () => {
    const action = `act-${uniqueTag()}`;
    await recorded(action, { userId: 'u1', password: 'pa55word-value' });
    await recorded(`${action}-2`);
    const { rows } = await listAuditLog(t.em(), { action }, { first: 10 });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action,
      actorKind: 'admin-secret',
      role: 'admin',
      outcome: 'ok',
      requestId: 'req-1',
      clientIp: '10.0.0.1',
      input: { userId: 'u1', password: REDACTED },
    });
    for (let i = 0; i < 11; i++) await recorded(`${action}-many-${i}`);
    const many = await listAuditLog(t.em(), {}, { first: 50 });
    const ids = many.rows.map((r) => Number(r.id));
    expect(ids.length).toBeGreaterThan(10);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const all = await listAuditLog(t.em(), {}, { first: 1 });
    expect(all.hasNextPage).toBe(true);
    const next = await listAuditLog(t.em(), {}, { first: 1, afterId: all.rows[0]?.id ?? null });
    expect(Number(next.rows[0]?.id)).toBeLessThan(Number(all.rows[0]?.id));
    expect(next.hasPreviousPage).toBe(true);
    const back = await listAuditLog(t.em(), {}, { first: 2, beforeId: ids[3]?.toString() ?? null });
    expect(back.rows.map((r) => Number(r.id))).toEqual([ids[1], ids[2]]);
    expect(back.hasPreviousPage).toBe(true);
    const none = await listAuditLog(
      t.em(),
      { action, until: new Date(Date.now() - 3_600_000) },
      { first: 10 },
    );
    expect(none.rows).toHaveLength(0);
  });

  it('refuses UPDATE, DELETE and TRUNCATE from a plain connection', async () => {
    const id = await recorded(`tamper-${uniqueTag()}`);
    await expect(t.query("update audit_log set outcome = 'x' where id = $1", [id])).rejects.toThrow(
      /append-only/,
    );
    await expect(t.query('delete from audit_log where id = $1', [id])).rejects.toThrow(/append-only/);
    await expect(t.query('truncate audit_log')).rejects.toThrow(/append-only/);
    const [row] = await t.query<{ outcome: string }>('select outcome from audit_log where id = $1', [id]);
    expect(row?.outcome).toBe('ok');
  });

  it('purges old rows only through purgeAuditLog, and only the old ones', async () => {
    const oldId = await recorded(`old-${uniqueTag()}`);
    const newId = await recorded(`new-${uniqueTag()}`);
    // Back-dating a row needs the trigger off: the test's own setup, as a database owner could.
    await t.query(`
      begin;
      alter table audit_log disable trigger audit_log_append_only;
      update audit_log set created_at = now() - interval '400 days' where id = ${Number(oldId)};
      alter table audit_log enable trigger audit_log_append_only;
      commit;`);
    await expect(t.query('delete from audit_log where id = $1', [oldId])).rejects.toThrow(/append-only/);
    const purged = await purgeAuditLog(t.em(), new Date(Date.now() - 365 * 86_400_000));
    expect(purged).toBe(1);
    const left = await t.query<{ id: string }>(
      'select id::text from audit_log where id = any($1::bigint[])',
      [[oldId, newId]],
    );
    expect(left.map((r) => r.id)).toEqual([newId]);
    // The purge's setting was local to its transaction: a later plain delete is refused again.
    await expect(t.query('delete from audit_log where id = $1', [newId])).rejects.toThrow(/append-only/);
  });
});

describe('applyAuditRetention', () => {
  it('keeps everything with 0 days', async () => {
    await recorded(`keep-${uniqueTag()}`);
    expect(await applyAuditRetention(t.em(), 0, new Date(Date.now() + 10 * 365 * 86_400_000))).toBe(0);
  });
  it('purges what is older than the retention', async () => {
    const id = await recorded(`retained-${uniqueTag()}`);
    // Seen from two days ahead with one day of retention, every row so far is old.
    const purged = await applyAuditRetention(t.em(), 1, new Date(Date.now() + 2 * 86_400_000));
    expect(purged).toBeGreaterThan(0);
    expect(await t.query('select 1 from audit_log where id = $1', [id])).toHaveLength(0);
  });
});
