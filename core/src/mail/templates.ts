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
