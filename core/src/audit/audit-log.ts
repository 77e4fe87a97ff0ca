import type { EntityManager } from '@mikro-orm/postgresql';
import { execute, rows, sql } from '../db/sql.ts';
import { auditText, redactInput } from './redact.ts';

/**
 * Who acted: the admin secret header, a session opened with the admin secret (break-glass), a
 * named operator, a signed-in user, or nobody known.
 */
export const AUDIT_ACTOR_KINDS = ['admin-secret', 'admin-session', 'operator', 'user', 'anonymous'] as const;
export type AuditActorKind = (typeof AUDIT_ACTOR_KINDS)[number];

export interface AuditEntry {
  actorKind: AuditActorKind;
  /** The admin session id, the operator id or the user id; null for the admin secret and for anonymous callers. */
  actorId: string | null;
  /** The operator role acted with ('owner' for the admin secret); null for users and anonymous callers. */
  role: string | null;
  /** The mutation's name, or a security event such as 'auth.sign_in_failed'. */
  action: string;
  targetType?: string | null;
  targetId?: string | null;
  /** The arguments; redacted here (redact.ts), so callers may pass them as they came. */
  input?: unknown;
  /** 'ok', or the error code the caller got. */
  outcome: string;
  requestId?: string | null;
  clientIp?: string | null;
}

export interface AuditRow {
  id: string;
  actorKind: AuditActorKind;
  actorId: string | null;
  role: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  input: unknown;
  outcome: string;
  requestId: string | null;
  clientIp: string | null;
  createdAt: Date;
}

/** Appends one row (on `em`'s connection: inside its transaction when it has one). */
export async function recordAudit(em: EntityManager, entry: AuditEntry): Promise<void> {
  const input = JSON.stringify(redactInput(entry.input ?? {}) ?? {});
  await execute(
    em,
    sql`insert into audit_log
          (actor_kind, actor_id, role, action, target_type, target_id, input, outcome, request_id, client_ip)
        values (${entry.actorKind}, ${entry.actorId}, ${entry.role}, ${entry.action},
                ${entry.targetType ?? null}, ${entry.targetId == null ? null : auditText(entry.targetId)}, ${input}::jsonb, ${entry.outcome},
                ${entry.requestId ?? null}, ${entry.clientIp ?? null})`,
  );
}

export interface AuditFilter {
  action?: string | null;
  actorKind?: AuditActorKind | null;
  targetId?: string | null;
  /** The kind of target (`user`, `payment`, `allocation`, `operator`, `api_token`, `session`). */
  targetType?: string | null;
  /** Rows at or after this time. */
  since?: Date | null;
  /** Rows before this time. */
  until?: Date | null;
}

export interface AuditPaging {
  /** At most this many rows (1..500). */
  first: number;
  /** Rows older than this row id (the previous page's last id). */
  afterId?: string | null;
  /** Instead: the `first` rows just newer than this row id (paging back), still newest first. */
  beforeId?: string | null;
}

interface DbRow {
  id: string;
  actor_kind: AuditActorKind;
  actor_id: string | null;
  role: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  input: unknown;
  outcome: string;
  request_id: string | null;
  client_ip: string | null;
  created_at: Date;
}

/** Newest first; one more row than asked tells whether there is a next page. */
export async function listAuditLog(
  em: EntityManager,
  filter: AuditFilter,
  paging: AuditPaging,
): Promise<{ rows: AuditRow[]; hasNextPage: boolean; hasPreviousPage: boolean }> {
  const first = Math.min(Math.max(paging.first, 1), 500);
  const idOf = (cursor: string | null | undefined) => (cursor && /^\d{1,18}$/.test(cursor) ? cursor : null);
  const afterId = idOf(paging.afterId);
  const beforeId = idOf(paging.beforeId);
  const backwards = beforeId !== null;
  const found = await rows<DbRow>(
    em,
    sql`select id::text as id, actor_kind, actor_id, role, action, target_type, target_id, input,
               outcome, request_id, client_ip, created_at
          from audit_log
         where (${filter.action ?? null}::text is null or action = ${filter.action ?? null})
           and (${filter.actorKind ?? null}::text is null or actor_kind = ${filter.actorKind ?? null})
           and (${filter.targetId ?? null}::text is null or target_id = ${filter.targetId ?? null})
           and (${filter.targetType ?? null}::text is null or target_type = ${filter.targetType ?? null})
           and (${filter.since ?? null}::timestamptz is null or created_at >= ${filter.since ?? null})
           and (${filter.until ?? null}::timestamptz is null or created_at < ${filter.until ?? null})
           and (${afterId}::bigint is null or audit_log.id < ${afterId}::bigint)
           and (${beforeId}::bigint is null or audit_log.id > ${beforeId}::bigint)
         order by case when ${backwards} then audit_log.id end asc, audit_log.id desc
         limit ${first + 1}`,
  );
  const more = found.length > first;
  const page = found.slice(0, first);
  if (backwards) page.reverse();
  return {
    hasNextPage: backwards ? true : more,
    hasPreviousPage: backwards ? more : afterId !== null,
    rows: page.map((r) => ({
      id: r.id,
      actorKind: r.actor_kind,
      actorId: r.actor_id,
      role: r.role,
      action: r.action,
      targetType: r.target_type,
      targetId: r.target_id,
      input: r.input,
      outcome: r.outcome,
      requestId: r.request_id,
      clientIp: r.client_ip,
      createdAt: new Date(r.created_at),
    })),
  };
}

/**
 * The retention purge: deletes rows created before `olderThan`; how many. The append-only
 * trigger lets a DELETE through only in a transaction that set `hero.audit_purge = on`, which
 * this sets locally (for its own transaction only).
 */
export async function purgeAuditLog(em: EntityManager, olderThan: Date): Promise<number> {
  return em.transactional(async (tx) => {
    await execute(tx, sql`select set_config('hero.audit_purge', 'on', true)`);
    return execute(tx, sql`delete from audit_log where created_at < ${olderThan}`);
  });
}

/** AUDIT_RETENTION_DAYS applied: purges rows older than `days` days; 0 keeps everything. */
export function applyAuditRetention(em: EntityManager, days: number, now = new Date()): Promise<number> {
  if (days <= 0) return Promise.resolve(0);
  return purgeAuditLog(em, new Date(now.getTime() - days * 86_400_000));
}
