import type { EntityManager } from '@mikro-orm/postgresql';
import { firstRow, sql } from '../db/sql.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { isUuid } from '../lib/ids.ts';

/** Which of their events a user is emailed about (see outbox/email-events.ts for the events). */
export interface EmailPreferences {
  /** A plan about to end, credit low or negative, a VM released at the period end or for credit. */
  warnings: boolean;
  /** A payment credited, a plan renewed. */
  receipts: boolean;
}

type Row = { warnings: boolean; receipts: boolean };

/** A user's email preferences; NotFoundError for an unknown user. */
export async function emailPreferences(em: EntityManager, userId: string): Promise<EmailPreferences> {
  const row = isUuid(userId)
    ? await firstRow(
        em,
        sql<Row>`select email_warnings as warnings, email_receipts as receipts from users where id = ${userId}`,
      )
    : undefined;
  if (!row) throw new NotFoundError('User', userId);
  return row;
}

/**
 * Changes the preferences given (the one writer of users.email_*); one left out keeps its value.
 * Nothing given: ValidationError. An unknown user: NotFoundError. Events already written keep
 * the choice of their time: an email queued before opting out is still sent.
 */
export async function setEmailPreferences(
  em: EntityManager,
  input: { userId: string } & Partial<EmailPreferences>,
): Promise<EmailPreferences> {
  const { warnings = null, receipts = null } = input;
  if (warnings === null && receipts === null)
    throw new ValidationError(
      [{ path: '', message: 'give warnings, receipts or both' }],
      'No preference given',
    );
  const row = isUuid(input.userId)
    ? await firstRow(
        em,
        sql<Row>`update users set email_warnings = coalesce(${warnings}::boolean, email_warnings),
                                  email_receipts = coalesce(${receipts}::boolean, email_receipts)
                  where id = ${input.userId}
                  returning email_warnings as warnings, email_receipts as receipts`,
      )
    : undefined;
  if (!row) throw new NotFoundError('User', input.userId);
  return row;
}
