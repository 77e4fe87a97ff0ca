import { z } from 'zod';
import type { EmailedTopic, EmailPreference } from '../outbox/email-events.ts';
import { EMAILED_EVENTS } from '../outbox/email-events.ts';
import { escapeHtml, type MailContent } from './templates.ts';

/**
 * The emails of user events (outbox topic `email`): one template per event, each a subject,
 * paragraphs and at most one link, laid out the same way in the text and the HTML part.
 */

const isoDate = z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'must be an ISO date');
const cents = z.number().int();

/** `12.34 EUR` (amounts are integer cents with their currency). */
export function formatMoney(amountCents: number, currency: string): string {
  const sign = amountCents < 0 ? '-' : '';
  const abs = Math.abs(amountCents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')} ${currency}`;
}

/** `2026-12-31 18:00 UTC`: one unambiguous form, whatever the reader's time zone. */
export function formatTime(iso: string): string {
  return `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

interface Message {
  subject: string;
  paragraphs: string[];
  link?: { label: string; path: string };
}

interface Template<S extends z.ZodType> {
  data: S;
  render(data: z.infer<S>): Message;
}

const template = <S extends z.ZodType>(t: Template<S>) => t;

const TEMPLATES = {
  'plan.expiring': template({
    data: z.object({
      planName: z.string().nullable(),
      periodEnd: isoDate,
      reason: z.string(),
      renewalPriceCents: cents.nullable(),
      balanceCents: cents,
      currency: z.string(),
    }),
    render: (d) => {
      const why: Record<string, string> = {
        AUTO_RENEW_OFF: 'Auto-renew is off, so the plan will not be renewed.',
        INSUFFICIENT_CREDIT:
          d.renewalPriceCents === null
            ? 'Your balance does not cover a renewal.'
            : `Renewing costs ${formatMoney(d.renewalPriceCents, d.currency)}, more than your balance of ${formatMoney(d.balanceCents, d.currency)}.`,
        PLAN_UNAVAILABLE: 'The plan is no longer on offer, so it cannot be renewed.',
        CURRENCY_MISMATCH: "The plan's price is in another currency than your balance.",
      };
      return {
        subject: `Your plan ends on ${formatTime(d.periodEnd)}`,
        paragraphs: [
          `Your plan${d.planName ? ` "${d.planName}"` : ''} ends on ${formatTime(d.periodEnd)}; your VMs are released then.`,
          why[d.reason] ?? 'It will not be renewed.',
          'To keep them, buy a plan (or top up and turn auto-renew on) before then.',
        ],
        link: { label: 'Plans', path: '/plans' },
      };
    },
  }),
  'balance.low': template({
    data: z.object({
      balanceCents: cents,
      currency: z.string(),
      runsOutAt: isoDate.nullable().optional(),
    }),
    render: (d) => ({
      subject: `Your credit is running low: ${formatMoney(d.balanceCents, d.currency)}`,
      paragraphs: [
        `Your balance is ${formatMoney(d.balanceCents, d.currency)}.`,
        d.runsOutAt
          ? `At your current usage it runs out around ${formatTime(d.runsOutAt)}.`
          : 'It is below the low-credit mark.',
        'When it goes below zero, your VMs are released after a grace period. Top up to keep them.',
      ],
      link: { label: 'Top up', path: '/credit' },
    }),
  }),
  'balance.negative': template({
    data: z.object({
      balanceCents: cents,
      currency: z.string(),
      releaseAt: isoDate.nullable(),
    }),
    render: (d) => ({
      subject: `Your balance is negative: ${formatMoney(d.balanceCents, d.currency)}`,
      paragraphs: [
        `Your balance went below zero: ${formatMoney(d.balanceCents, d.currency)}.`,
        d.releaseAt
          ? `Unless it is back to zero or more by ${formatTime(d.releaseAt)}, your VMs are released then.`
          : 'Top up to bring it back to zero or more.',
      ],
      link: { label: 'Top up', path: '/credit' },
    }),
  }),
  'allocation.released': template({
    data: z.object({ poolVmId: z.string(), reason: z.string(), releasedAt: isoDate.nullable() }),
    render: (d) => ({
      subject: `Your VM ${d.poolVmId} was released`,
      paragraphs: [
        `Your VM ${d.poolVmId} was released${d.releasedAt ? ` on ${formatTime(d.releasedAt)}` : ''}, ${
          d.reason === 'CREDIT_EXHAUSTED'
            ? 'because your balance stayed below zero past the grace period'
            : 'because your plan period ended'
        }.`,
        'Its data is gone with it. With credit and a plan, you can get a VM again from the dashboard.',
      ],
      link: { label: 'Dashboard', path: '/' },
    }),
  }),
  'payment.received': template({
    data: z.object({
      amountCents: cents,
      currency: z.string(),
      balanceCents: cents,
      receivedAt: isoDate.optional(),
    }),
    render: (d) => ({
      subject: `Payment received: ${formatMoney(d.amountCents, d.currency)}`,
      paragraphs: [
        `We credited ${formatMoney(d.amountCents, d.currency)} to your account${d.receivedAt ? ` on ${formatTime(d.receivedAt)}` : ''}.`,
        `Your balance is now ${formatMoney(d.balanceCents, d.currency)}.`,
      ],
      link: { label: 'Receipts', path: '/receipts' },
    }),
  }),
  'plan.renewed': template({
    data: z.object({
      planName: z.string(),
      priceCents: cents,
      currency: z.string(),
      periodEnd: isoDate,
      balanceCents: cents,
    }),
    render: (d) => ({
      subject: `Your plan "${d.planName}" was renewed`,
      paragraphs: [
        `Your plan "${d.planName}" was renewed until ${formatTime(d.periodEnd)} for ${formatMoney(d.priceCents, d.currency)}, paid from your balance.`,
        `Your balance is now ${formatMoney(d.balanceCents, d.currency)}. Turn auto-renew off on the plans page to stop renewals.`,
      ],
      link: { label: 'Plans', path: '/plans' },
    }),
  }),
  'password.changed': template({
    data: z.object({
      via: z.enum(['RESET', 'INVITATION', 'CHANGE']),
      sessionsEnded: z.number().int().min(0),
      changedAt: isoDate,
    }),
    render: (d) => ({
      subject: 'Your password was changed',
      paragraphs: [
        `The password of your account was changed on ${formatTime(d.changedAt)}${
          d.via === 'RESET' ? ', with a reset link sent to this address' : ''
        }.`,
        ...(d.sessionsEnded > 0
          ? [`${d.sessionsEnded === 1 ? 'One session was' : `${d.sessionsEnded} sessions were`} signed out.`]
          : []),
        'If this was not you, choose a new password now with "Forgot password?" on the sign-in page, then revoke any API token you do not know on your account page.',
      ],
      link: { label: 'Choose a new password', path: '/forgot' },
    }),
  }),
  'api_token.created': template({
    data: z.object({ name: z.string(), expiresAt: isoDate.nullable(), createdAt: isoDate }),
    render: (d) => ({
      subject: `A new API token was created: "${d.name}"`,
      paragraphs: [
        `An API token named "${d.name}" was created for your account on ${formatTime(d.createdAt)}, ${
          d.expiresAt ? `valid until ${formatTime(d.expiresAt)}` : 'with no expiry'
        }. It can do through the API what you can do.`,
        'If this was not you, revoke it on your account page and change your password.',
      ],
      link: { label: 'Your account', path: '/account' },
    }),
  }),
} satisfies Record<EmailedTopic, Template<z.ZodType>>;

const WHY: Record<EmailPreference | 'always', string> = {
  warnings:
    'You get this email because warnings by email are on for your account. Change it on your account page:',
  receipts:
    'You get this email because receipts by email are on for your account. Change it on your account page:',
  always: 'You get this email whatever your email preferences, because it is about who can use your account:',
};

/**
 * The email of event `topic` with payload `data`, its links under `webUrl` (the web's public
 * base URL). A payload without what the template needs throws (the outbox retries, then marks
 * the email FAILED), rather than sending a half-empty message.
 */
export function eventEmail(topic: EmailedTopic, data: unknown, webUrl: string): MailContent {
  const t: Template<z.ZodType> = TEMPLATES[topic];
  const parsed = t.data.safeParse(data);
  if (!parsed.success)
    throw new Error(
      `malformed ${topic} payload: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join(', ')}`,
    );
  const message = t.render(parsed.data);
  const base = webUrl.replace(/\/+$/, '');
  const link = message.link && { label: message.link.label, url: `${base}${message.link.path}` };
  const why = WHY[EMAILED_EVENTS[topic].preference];
  const account = `${base}/account`;
  const text = [
    'Hello,',
    '',
    ...message.paragraphs.flatMap((p) => [p, '']),
    ...(link ? [`${link.label}: ${link.url}`, ''] : []),
    '--',
    why,
    account,
    '',
  ].join('\n');
  const html = `<!doctype html>
<html><body style="font-family: sans-serif">
<p>Hello,</p>
${message.paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('\n')}
${link ? `<p><a href="${escapeHtml(link.url)}">${escapeHtml(link.label)}</a></p>\n` : ''}<hr>
<p style="color: #666; font-size: small">${escapeHtml(why)} <a href="${escapeHtml(account)}">${escapeHtml(account)}</a></p>
</body></html>
`;
  return { subject: message.subject, text, html };
}
