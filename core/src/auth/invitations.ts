import type { EntityManager } from '@mikro-orm/postgresql';
import { firstRow, sql } from '../db/sql.ts';
import { AccountDeletedError, NotFoundError } from '../errors.ts';
import { isUuid } from '../lib/ids.ts';
import type { Logger } from '../lib/logger.ts';
import type { Mailer } from '../mail/mailer.ts';
import { invitationEmail } from '../mail/templates.ts';
import { enqueueNotification } from '../outbox/notify-events.ts';
import { issueLinkToken, webLink } from './link-tokens.ts';

/**
 * An invitation link works this long: longer than a reset link, since the invited person did
 * not ask for it and may read the email days later.
 */
export const INVITATION_TTL_DAYS = 7;

/**
 * The link in the email and the one shown to the operator: the web's reset page, which sets a
 * first password the same way (resetPassword accepts both purposes).
 */
export function invitationLink(webUrl: string, token: string): string {
  return webLink(webUrl, 'reset', token, { invite: '1' });
}

export interface Invitation {
  userId: string;
  email: string;
  displayName: string;
  /** The set-password link: shown once, only its token's hash is kept. */
  url: string;
  expiresInDays: number;
}

/**
 * Issues a single-use set-password link for a user (INVITATION_TTL_DAYS). Earlier invitation
 * links of the user that are still unused stop working, so only the newest one does. A
 * `user.invited` event (no link in it) is enqueued in the same transaction. Call it
 * inside the transaction that creates the user; send the email after the commit (sendInvitation).
 * An unknown user: NotFoundError.
 */
export async function issueInvitation(
  em: EntityManager,
  userId: string,
  webUrl: string,
): Promise<Invitation> {
  const user = isUuid(userId)
    ? await firstRow(
        em,
        sql<{
          id: string;
          email: string;
          display_name: string;
          status: string;
        }>`select id, email, display_name, status from users where id = ${userId}`,
      )
    : undefined;
  if (!user) throw new NotFoundError('User', userId);
  // A tombstone's email is no address to invite.
  if (user.status === 'deleted') throw new AccountDeletedError(userId);
  // `hpi_…`, with the reset links (purpose `invite`).
  const link = await issueLinkToken(em, {
    userId: user.id,
    purpose: 'invite',
    prefix: 'hpi_',
    ttlMinutes: INVITATION_TTL_DAYS * 24 * 60,
    replace: true,
  });
  // The event never carries the link: the outbox row is not a place for a live token.
  await enqueueNotification(
    em,
    'user.invited',
    { userId: user.id, email: user.email, expiresAt: link.expiresAt.toISOString() },
    `user.invited:${link.id}`,
  );
  return {
    userId: user.id,
    email: user.email,
    displayName: user.display_name,
    url: invitationLink(webUrl, link.token),
    expiresInDays: INVITATION_TTL_DAYS,
  };
}

/**
 * Hands the invitation email to the mailer; never throws (a failure is logged, and the operator
 * has the link and can send it again). Returns the delivery for tests to await.
 */
export function sendInvitation(invitation: Invitation, deps: { mailer: Mailer; log: Logger }): Promise<void> {
  const content = invitationEmail({
    displayName: invitation.displayName,
    inviteUrl: invitation.url,
    expiresInDays: invitation.expiresInDays,
  });
  return deps.mailer.send({ to: invitation.email, ...content }).then(
    () => deps.log.info({ userId: invitation.userId, via: deps.mailer.description }, 'invitation email sent'),
    (err) =>
      deps.log.error(
        { userId: invitation.userId, via: deps.mailer.description, err },
        'invitation email could not be sent (the operator has the link and can send it again)',
      ),
  );
}

/**
 * Issues a new invitation link for an existing user (the previous one stops working) in its own
 * transaction, then sends the email without waiting. NotFoundError for an unknown user.
 */
export async function resendInvitation(
  em: EntityManager,
  userId: string,
  deps: { webUrl: string; mailer: Mailer; log: Logger },
): Promise<{ invitation: Invitation; delivery: Promise<void> }> {
  const invitation = await em.transactional((tx) => issueInvitation(tx, userId, deps.webUrl));
  return { invitation, delivery: sendInvitation(invitation, deps) };
}
