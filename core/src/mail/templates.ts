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

export interface EmailVerificationMail {
  displayName: string;
  /** The link that opens the web's /verify page with the token. */
  verifyUrl: string;
  /** How long the link works. */
  expiresInHours: number;
}

/** Sent after a sign-up (when SIGNUP_VERIFY_EMAIL is on) and when the user asks for a new link. */
export function emailVerificationEmail({
  displayName,
  verifyUrl,
  expiresInHours,
}: EmailVerificationMail): MailContent {
  const subject = 'Verify your email for hero-onboarding';
  const text = [
    `Hello ${displayName},`,
    '',
    'Please confirm that this address is yours: open this link',
    `(it works once, for ${expiresInHours} hours):`,
    verifyUrl,
    '',
    'Until then you can sign in and look around, but not pay or get a VM.',
    'If you did not sign up for hero-onboarding, ignore this email.',
    '',
  ].join('\n');
  const url = escapeHtml(verifyUrl);
  const html = `<!doctype html>
<html><body style="font-family: sans-serif">
<p>Hello ${escapeHtml(displayName)},</p>
<p>Please confirm that this address is yours: <a href="${url}">verify my email</a> (the link works once, for ${expiresInHours} hours).</p>
<p>Or copy this address into your browser: <code>${url}</code></p>
<p>Until then you can sign in and look around, but not pay or get a VM.<br>
If you did not sign up for hero-onboarding, ignore this email.</p>
</body></html>
`;
  return { subject, text, html };
}

export interface EmailChangeMail {
  displayName: string;
  /** The address the account is to move to (this email goes there). */
  newEmail: string;
  /** The link that opens the web's /verify page with the token. */
  confirmUrl: string;
  expiresInHours: number;
}

/** Sent to the NEW address of an email change: the change happens only when the link is used. */
export function emailChangeEmail({
  displayName,
  newEmail,
  confirmUrl,
  expiresInHours,
}: EmailChangeMail): MailContent {
  const subject = 'Confirm your new email for hero-onboarding';
  const text = [
    `Hello ${displayName},`,
    '',
    `You asked to change the email of your hero-onboarding account to ${newEmail}.`,
    `Open this link to confirm (it works once, for ${expiresInHours} hours):`,
    confirmUrl,
    '',
    'Your account keeps its old email until then; afterwards you sign in with this one.',
    'If you did not ask for this, ignore this email: nothing changes.',
    '',
  ].join('\n');
  const url = escapeHtml(confirmUrl);
  const html = `<!doctype html>
<html><body style="font-family: sans-serif">
<p>Hello ${escapeHtml(displayName)},</p>
<p>You asked to change the email of your hero-onboarding account to <strong>${escapeHtml(newEmail)}</strong>.</p>
<p><a href="${url}">Confirm the new email</a> (the link works once, for ${expiresInHours} hours).</p>
<p>Or copy this address into your browser: <code>${url}</code></p>
<p>Your account keeps its old email until then; afterwards you sign in with this one.<br>
If you did not ask for this, ignore this email: nothing changes.</p>
</body></html>
`;
  return { subject, text, html };
}

export interface EmailChangeNoticeMail {
  displayName: string;
  newEmail: string;
}

/** Sent to the OLD address when an email change is asked for, so its owner hears of it. */
export function emailChangeNoticeEmail({ displayName, newEmail }: EmailChangeNoticeMail): MailContent {
  const subject = 'An email change was asked for on your hero-onboarding account';
  const text = [
    `Hello ${displayName},`,
    '',
    `Someone signed in to your hero-onboarding account asked to change its email to ${newEmail}.`,
    'The change happens only when the link sent to that address is opened.',
    '',
    'If this was you, there is nothing to do here.',
    'If it was not, change your password now (or use "Forgot password?"): that cancels the change.',
    '',
  ].join('\n');
  const html = `<!doctype html>
<html><body style="font-family: sans-serif">
<p>Hello ${escapeHtml(displayName)},</p>
<p>Someone signed in to your hero-onboarding account asked to change its email to <strong>${escapeHtml(newEmail)}</strong>.
The change happens only when the link sent to that address is opened.</p>
<p>If this was you, there is nothing to do here.<br>
If it was not, change your password now (or use "Forgot password?"): that cancels the change.</p>
</body></html>
`;
  return { subject, text, html };
}
