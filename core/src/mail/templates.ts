/** One message, ready to send: a subject, a plain-text part and an HTML part. */
export interface MailContent {
  subject: string;
  text: string;
  html: string;
}

/** Values put into HTML are escaped here, never in the templates one by one. */
export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export interface PasswordResetMail {
  /** The link that opens the web's reset page with the token. */
  resetUrl: string;
  /** How long the link works. */
  expiresInMinutes: number;
}

/** Sent for requestPasswordReset to an email that has an account. */
export function passwordResetEmail({ resetUrl, expiresInMinutes }: PasswordResetMail): MailContent {
  const lifetime =
    expiresInMinutes % 60 === 0 ? `${expiresInMinutes / 60} hour(s)` : `${expiresInMinutes} minutes`;
  const subject = 'Reset your hero-onboarding password';
  const text = [
    'Someone (hopefully you) asked to reset the password of your hero-onboarding account.',
    '',
    `Open this link to choose a new password (it works once, for ${lifetime}):`,
    resetUrl,
    '',
    'Setting a new password signs out every session of the account.',
    'If you did not ask for this, ignore this email: your password stays as it is.',
    '',
  ].join('\n');
  const url = escapeHtml(resetUrl);
  const html = `<!doctype html>
<html><body style="font-family: sans-serif">
<p>Someone (hopefully you) asked to reset the password of your hero-onboarding account.</p>
<p><a href="${url}">Choose a new password</a> (the link works once, for ${escapeHtml(lifetime)}).</p>
<p>Or copy this address into your browser: <code>${url}</code></p>
<p>Setting a new password signs out every session of the account.<br>
If you did not ask for this, ignore this email: your password stays as it is.</p>
</body></html>
`;
  return { subject, text, html };
}

export interface InvitationMail {
  /** Who the account is for, as the operator wrote it. */
  displayName: string;
  /** The link that opens the web's set-password page with the token. */
  inviteUrl: string;
  /** How long the link works. */
  expiresInDays: number;
}

/** Sent when an operator creates a user (and when they send the invitation again). */
export function invitationEmail({ displayName, inviteUrl, expiresInDays }: InvitationMail): MailContent {
  const subject = 'You are invited to hero-onboarding';
  const text = [
    `Hello ${displayName},`,
    '',
    'An operator created a hero-onboarding account for you.',
    `Open this link to choose your password (it works once, for ${expiresInDays} day(s)):`,
    inviteUrl,
    '',
    'Then sign in with your email and that password.',
    'If the link has expired, ask the operator to send the invitation again, or use "Forgot password?".',
    '',
  ].join('\n');
  const url = escapeHtml(inviteUrl);
  const html = `<!doctype html>
<html><body style="font-family: sans-serif">
<p>Hello ${escapeHtml(displayName)},</p>
<p>An operator created a hero-onboarding account for you.</p>
<p><a href="${url}">Choose your password</a> (the link works once, for ${expiresInDays} day(s)).</p>
<p>Or copy this address into your browser: <code>${url}</code></p>
<p>Then sign in with your email and that password.<br>
If the link has expired, ask the operator to send the invitation again, or use "Forgot password?".</p>
</body></html>
`;
  return { subject, text, html };
}
