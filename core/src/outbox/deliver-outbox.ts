import type { EntityManager } from '@mikro-orm/postgresql';
import { execute, firstRow, sql } from '../db/sql.ts';
import { backoffMs } from '../lib/backoff.ts';
import type { Logger } from '../lib/logger.ts';

export interface OutboxRow {
  id: number;
  topic: string;
  payload: Record<string, unknown>;
  attempts: number;
  /** When the event was written. */
  createdAt: Date;
}

/** Delivers one event; throws to have it retried. */
export type OutboxHandler = (row: OutboxRow) => Promise<void>;

export interface DeliverOutboxOptions {
  handlers: Record<string, OutboxHandler>;
  /** At most this many events per run (the rest wait for the next tick). */
  limit?: number;
  maxAttempts: number;
  /** Retry n waits baseBackoffMs * 2^(n-1), capped at maxBackoffMs. */
  baseBackoffMs: number;
  maxBackoffMs?: number;
  log: Logger;
}

export interface DeliverOutboxSummary {
  delivered: number;
  retried: number;
  failed: number;
  errors: string[];
}

/**
 * Delivers due PENDING outbox events, one transaction per event: the row is claimed with
 * FOR UPDATE SKIP LOCKED (so replicas never deliver the same event at once), handled, and
 * marked DONE, or rescheduled with exponential backoff, or FAILED after maxAttempts.
 */
export async function deliverOutbox(
  em: EntityManager,
  options: DeliverOutboxOptions,
): Promise<DeliverOutboxSummary> {
  const summary: DeliverOutboxSummary = { delivered: 0, retried: 0, failed: 0, errors: [] };
  const limit = options.limit ?? 100;
  const maxBackoff = options.maxBackoffMs ?? 15 * 60_000;
  for (let i = 0; i < limit; i++) {
    const handled = await em.fork().transactional(async (tx) => {
      const row = await firstRow(
        tx,
        sql<
          Omit<OutboxRow, 'createdAt'> & { created_at: string }
        >`select id, topic, payload, attempts, created_at from outbox
          where status = 'PENDING' and next_attempt_at <= now()
          order by next_attempt_at, id limit 1 for update skip locked`,
      );
      if (!row) return false;
      const id = Number(row.id);
      const log = options.log.child({ outboxId: id, topic: row.topic });
      const handler = options.handlers[row.topic];
      try {
        if (!handler) throw new Error(`no handler for topic ${row.topic}`);
        await handler({
          id,
          topic: row.topic,
          payload: row.payload,
          attempts: row.attempts,
          createdAt: new Date(row.created_at),
        });
        await execute(
          tx,
          sql`update outbox set status = 'DONE', attempts = attempts + 1, done_at = now(), last_error = null
               where id = ${id}`,
        );
        summary.delivered++;
        log.info({ attempts: row.attempts + 1 }, 'outbox event delivered');
      } catch (err) {
        const attempts = row.attempts + 1;
        const message = err instanceof Error ? err.message : String(err);
        if (attempts >= options.maxAttempts) {
          await execute(
            tx,
            sql`update outbox set status = 'FAILED', attempts = ${attempts}, last_error = ${message} where id = ${id}`,
          );
          summary.failed++;
          summary.errors.push(`outbox ${id} (${row.topic}) failed after ${attempts} attempts: ${message}`);
          log.error({ attempts, err: message }, 'outbox event failed for good');
        } else {
          const delay = backoffMs(attempts, { baseMs: options.baseBackoffMs, maxMs: maxBackoff });
          await execute(
            tx,
            sql`update outbox set attempts = ${attempts}, last_error = ${message},
                       next_attempt_at = now() + (${delay} * interval '1 millisecond')
                 where id = ${id}`,
          );
          summary.retried++;
          log.warn({ attempts, retryInMs: delay, err: message }, 'outbox event delivery failed, will retry');
        }
      }
      return true;
    });
    if (!handled) break;
  }
  return summary;
}
