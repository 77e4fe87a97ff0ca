import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.ts';
import { createMailer, describeSmtpUrl } from './mailer.ts';
import { passwordResetEmail } from './templates.ts';

const log = createLogger({ name: 'test', level: 'silent' });

describe('passwordResetEmail', () => {
  it('puts the link in both parts and escapes it in the HTML', () => {
    const mail = passwordResetEmail({
      resetUrl: 'https://x.example/reset?token=a&b="<c>',
      expiresInMinutes: 60,
    });
    expect(mail.text).toContain('https://x.example/reset?token=a&b="<c>');
    expect(mail.text).toContain('1 hour');
    expect(mail.html).toContain('href="https://x.example/reset?token=a&amp;b=&quot;&lt;c&gt;"');
    expect(mail.html).not.toContain('<c>');
  });
});

describe('createMailer', () => {
  it('with MAIL_DIR, writes each message as an .eml file with both parts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hero-mail-'));
    try {
      const mailer = createMailer(
        { smtpUrl: null, from: 'Hero <noreply@example.org>', dir, timeoutMs: 1000 },
        log,
      );
      expect(mailer.description).toBe(`directory ${dir}`);
      await mailer.send({
        to: 'someone@example.org',
        subject: 'Hello',
        text: 'plain body',
        html: '<p>html body</p>',
      });
      const files = await readdir(dir);
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/\.eml$/);
      const eml = await readFile(join(dir, files[0] as string), 'utf8');
      expect(eml).toContain('To: someone@example.org');
      expect(eml).toContain('From: Hero <noreply@example.org>');
      expect(eml).toContain('text/plain');
      expect(eml).toContain('text/html');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an SMTP server that does not answer fails the send within the timeout', async () => {
    const { createServer } = await import('node:net');
    // Accepts connections and never greets.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const mailer = createMailer(
        { smtpUrl: `smtp://user:pw@127.0.0.1:${port}`, from: 'a@example.org', dir: null, timeoutMs: 300 },
        log,
      );
      expect(mailer.description).toBe(`smtp://127.0.0.1:${port}`);
      const started = Date.now();
      await expect(
        mailer.send({ to: 'b@example.org', subject: 's', text: 't', html: 'h' }),
      ).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(3000);
      mailer.close();
    } finally {
      silent.close();
    }
  });

  it('never shows SMTP credentials in its description', () => {
    expect(describeSmtpUrl('smtps://me:secret@mail.example.org:465')).toBe('smtps://mail.example.org:465');
  });
});
